package wire

import (
	"encoding/binary"
	"strconv"
)

// The binary form: "CRN1", a uint32 little-endian header length H, H bytes
// of JSON header, zero padding, then buffers at the offsets the header's
// "buffers" list gives.
const (
	magic       = "CRN1"
	preambleLen = 8  // magic and H
	bufferAlign = 64 // where this package puts buffers; readers require only 8
	minAlign    = 8  // the protocol's requirement on buffer offsets
)

// splitFrame checks a binary message's preamble and returns its header.
func splitFrame(msg []byte) ([]byte, *Error) {
	if len(msg) < len(magic) || string(msg[:len(magic)]) != magic {
		return nil, invalid("binary message: does not start with the magic %q (got %q)", magic, msg[:min(len(msg), len(magic))])
	}
	if len(msg) < preambleLen {
		return nil, invalid("binary message: %d bytes, too short to hold the header length (bytes 4 to 8)", len(msg))
	}
	h := binary.LittleEndian.Uint32(msg[len(magic):preambleLen])
	if uint64(h) > uint64(len(msg)-preambleLen) {
		return nil, invalid("binary message: header length %d exceeds the %d bytes after the 8-byte preamble", h, len(msg)-preambleLen)
	}
	return msg[preambleLen : preambleLen+int(h)], nil
}

// parseBuffers decodes a header's "buffers" list of [offset, length] pairs
// and checks that each buffer lies after the header and inside the message.
func parseBuffers(raw []byte, msgLen, headerEnd int) ([]span, *Error) {
	if isNull(raw) {
		return nil, nil
	}
	raw = trimSpace(raw)
	if raw[0] != '[' {
		return nil, invalid(`binary message: "buffers" must be a list of [offset, length] pairs, got %s`, describe(raw))
	}
	var spans []span
	err := elements(raw, func(i int, v []byte) *Error {
		var pair [2]int64
		n := 0
		if v[0] != '[' {
			return invalid("binary message: buffer %d must be an [offset, length] pair, got %s", i, describe(v))
		}
		err := elements(v, func(j int, x []byte) *Error {
			n++
			if j >= 2 {
				return nil
			}
			if !isNumberStart(x[0]) {
				return invalid("binary message: buffer %d: %s must be a non-negative integer, got %s", i, pairName[j], describe(x))
			}
			k, st := parseInt(x)
			if st != intOK || k < 0 {
				return invalid("binary message: buffer %d: %s must be a non-negative integer, got %s", i, pairName[j], quoteToken(x))
			}
			pair[j] = k
			return nil
		})
		if err != nil {
			return err
		}
		if n != 2 {
			return invalid("binary message: buffer %d must be an [offset, length] pair, got %d numbers", i, n)
		}
		off, length := pair[0], pair[1]
		switch {
		case off%minAlign != 0:
			return invalid("binary message: buffer %d: offset %d is not a multiple of %d", i, off, minAlign)
		case off < int64(headerEnd):
			return invalid("binary message: buffer %d: offset %d lies inside the preamble and header, which end at byte %d", i, off, headerEnd)
		case off > int64(msgLen) || length > int64(msgLen)-off:
			return invalid("binary message: buffer %d [%d, %s) lies outside the %d-byte message",
				i, off, strconv.FormatUint(uint64(off)+uint64(length), 10), msgLen)
		}
		spans = append(spans, span{off: int(off), n: int(length)})
		return nil
	})
	return spans, err
}

// pairName names the members of a buffer's [offset, length] pair.
var pairName = [2]string{"offset", "length"}

// layout lays out a binary message from an open header (a JSON object whose
// members are written but not its closing brace) and the buffers it names by
// index: it adds the "buffers" member and puts each buffer at a
// 64-byte-aligned offset.
func layout(header []byte, bufs [][]byte) *Message {
	// The offsets depend on the header's length, which depends on how many
	// digits the offsets have: start from a guess and grow it until the
	// header fits before the first buffer (a few rounds at most).
	var tail []byte
	offs := make([]int, len(bufs))
	base := alignUp(preambleLen + len(header))
	for {
		end := base
		for i, b := range bufs {
			offs[i] = end
			end = alignUp(end + len(b))
		}
		tail = append(tail[:0], `,"buffers":[`...)
		for i, b := range bufs {
			if i > 0 {
				tail = append(tail, ',')
			}
			tail = append(tail, '[')
			tail = strconv.AppendInt(tail, int64(offs[i]), 10)
			tail = append(tail, ',')
			tail = strconv.AppendInt(tail, int64(len(b)), 10)
			tail = append(tail, ']')
		}
		tail = append(tail, "]}"...)
		if preambleLen+len(header)+len(tail) <= base {
			break
		}
		base = alignUp(preambleLen + len(header) + len(tail))
	}
	h := len(header) + len(tail)
	m := &Message{Binary: true, bufs: bufs, offs: offs, size: preambleLen + h}
	for i, b := range bufs {
		m.size = max(m.size, offs[i]+len(b))
	}
	m.head = make([]byte, preambleLen, preambleLen+h)
	copy(m.head, magic)
	binary.LittleEndian.PutUint32(m.head[len(magic):], uint32(h))
	m.head = append(append(m.head, header...), tail...)
	return m
}

// alignUp rounds n up to a multiple of bufferAlign.
func alignUp(n int) int { return (n + bufferAlign - 1) &^ (bufferAlign - 1) }

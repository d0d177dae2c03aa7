package wire

import (
	"io"
	"math"
	"sync"

	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/tensor"
)

// readChunk is the size of the pooled pieces ReadAll reads into.
const readChunk = 256 << 10

// chunks holds *[readChunk]byte between messages, so that reading a large
// message allocates nothing but the message itself.
var chunks = sync.Pool{New: func() any { return new([readChunk]byte) }}

// ReadAll reads r to its end and returns what it read in 64-byte-aligned
// memory of exactly that size (the decoders' tensors then alias it without
// copying). A binary crunch message says in its header how long it is:
// once the header is in, the rest is read straight into the final buffer.
// Other messages are read into pooled chunks and copied once, when the
// size is known (io.ReadAll grows its buffer by copying and leaves the
// growth behind as garbage). An error is returned with nothing read.
func ReadAll(r io.Reader) ([]byte, error) {
	msg, _, err := readAll(r, nil, math.MaxInt, nil)
	return msg, err
}

// ReadAllPooled is ReadAll reading a message of msgbuf.MinSize bytes or
// more into a buffer from pool, outside the Go heap: buf, which the caller
// releases once nothing reads msg any more (nil when msg is in the heap).
// A header declaring more than limit bytes is not believed (r should end
// the message there).
func ReadAllPooled(r io.Reader, pool *msgbuf.Pool, limit int) (msg []byte, buf *msgbuf.Buf, err error) {
	return readAll(r, pool, limit, nil)
}

// ReadAllPooledHead is ReadAllPooled that, for a message longer than one
// read chunk (256 KiB), first calls head with the chunk's bytes, before it
// reads on: what a reader that may refuse the rest (see PeekRequest) needs
// to know. head must not keep the slice.
func ReadAllPooledHead(r io.Reader, pool *msgbuf.Pool, limit int, head func([]byte)) (msg []byte, buf *msgbuf.Buf, err error) {
	return readAll(r, pool, limit, head)
}

// alloc returns n bytes of aligned memory: from pool when it is given and
// n is large, else from the Go heap (buf nil).
func alloc(pool *msgbuf.Pool, n int) ([]byte, *msgbuf.Buf, error) {
	if pool == nil || n < msgbuf.MinSize {
		return tensor.AlignedBytes(n), nil, nil
	}
	b, err := pool.Get(n)
	if err != nil {
		return nil, nil, err
	}
	return b.Bytes(n), b, nil
}

func readAll(r io.Reader, pool *msgbuf.Pool, limit int, head func([]byte)) ([]byte, *msgbuf.Buf, error) {
	first := chunks.Get().(*[readChunk]byte)
	held := []*[readChunk]byte{first}
	defer func() {
		for _, c := range held {
			chunks.Put(c)
		}
	}()
	n, err := io.ReadFull(r, first[:])
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		msg, release, err := alloc(pool, n)
		if err != nil {
			return nil, nil, err
		}
		copy(msg, first[:n])
		return msg, release, nil
	case err != nil:
		return nil, nil, err
	}
	if head != nil {
		head(first[:n])
	}
	if size := declaredSize(first[:n]); size > n && size <= limit {
		held = nil // readDeclared gives first back
		return readDeclared(r, pool, first, n, size)
	}
	total := n
	// The next chunk is taken only once a byte for it has come: a reader
	// that waits meanwhile (the server's large-message gate does, after
	// the first chunk) then holds one chunk, not two.
	var next [1]byte
	for {
		k, err := io.ReadFull(r, next[:])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		total += k
		c := chunks.Get().(*[readChunk]byte)
		held = append(held, c)
		c[0] = next[0]
		n, err := io.ReadFull(r, c[1:])
		total += n
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	msg, release, err := alloc(pool, total)
	if err != nil {
		return nil, nil, err
	}
	for i, c := range held {
		copy(msg[i*readChunk:], c[:])
	}
	return msg, release, nil
}

// readDeclared reads the rest of a message whose first head bytes are in
// the chunk first, and which declares size bytes, straight into a buffer
// of that size. A message that turns out longer than it said is read on
// into a larger buffer; one that is shorter is returned as it is (the
// decoder then refuses it). It gives first back to the pool.
func readDeclared(r io.Reader, pool *msgbuf.Pool, first *[readChunk]byte, head, size int) ([]byte, *msgbuf.Buf, error) {
	msg, buf, err := alloc(pool, size)
	copy(msg, first[:head])
	// Back before the rest is read, which may wait (the server's
	// large-message gate waits right here): a message waiting then holds
	// its own buffer, not the chunk as well.
	chunks.Put(first)
	if err != nil {
		return nil, nil, err
	}
	n, err := io.ReadFull(r, msg[head:])
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return msg[: head+n : head+n], buf, nil
	case err != nil:
		buf.Release()
		return nil, nil, err
	}
	var probe [1]byte
	if k, err := io.ReadFull(r, probe[:]); err != nil && k == 0 {
		if err == io.EOF {
			return msg, buf, nil // exactly as declared: the usual case
		}
		buf.Release()
		return nil, nil, err
	}
	// Longer than declared: read the rest after msg and the probe byte.
	rest, err := ReadAll(r)
	if err != nil {
		buf.Release()
		return nil, nil, err
	}
	whole, wholeBuf, err := alloc(pool, len(msg)+1+len(rest))
	if err == nil {
		copy(whole, msg)
		whole[len(msg)] = probe[0]
		copy(whole[len(msg)+1:], rest)
	}
	buf.Release()
	return whole, wholeBuf, err
}

// declaredSize is the length of the binary crunch message that starts
// with head, as its header declares it (where its last buffer ends), or 0
// when head is not the start of one with its whole header.
func declaredSize(head []byte) int {
	if len(head) < preambleLen || string(head[:len(magic)]) != magic {
		return 0
	}
	m, err := parseMessage(true, head)
	if err != nil {
		return 0
	}
	spans, err := parseBuffers(m.fields["buffers"], math.MaxInt, m.end)
	if err != nil {
		return 0
	}
	size := m.end
	for _, s := range spans {
		size = max(size, s.off+s.n)
	}
	return size
}

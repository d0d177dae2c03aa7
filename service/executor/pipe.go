package executor

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/crunchsvc/crunch/service/tensor"
)

// The pipe protocol between the subprocess executor and its workers. Both
// directions carry frames:
//
//	[uint32 LE payload length][1 byte kind][payload]
//
// The worker speaks first, with a hello. Then the server sends one job at a
// time and the worker answers it with any number of progress frames and
// exactly one result; the server may send a cancel for the running job at
// any time. Requests and replies are the protocol's own binary messages
// (package wire), so the pipe needs no codec of its own and a job means in
// the worker exactly what it meant to the server.
//
// Array payloads travel inside those messages for now. Shared memory will
// come as new kinds (a job or result whose buffers live in a memfd that the
// worker received at start as an extra file, the frame carrying the wire
// header and the buffers' offsets in it): the hello's protocol number and
// the kind byte are where that will plug in, and a peer rejects kinds it
// does not know.
const (
	frameHello    byte = 1 // worker → server: JSON helloMsg
	frameJob      byte = 2 // server → worker: a binary wire request (op, impl, args, progress)
	frameCancel   byte = 3 // server → worker: the 8-byte LE id of the job to cancel
	frameProgress byte = 4 // worker → server: a binary wire reply with Progress set
	frameResult   byte = 5 // worker → server: a binary wire reply, ok or failed
)

// pipeProtocol is the version a worker announces in its hello.
const pipeProtocol = 1

// frameHeaderLen is the size of a frame's length and kind.
const frameHeaderLen = 5

// maxFrame bounds a frame's payload: a request of the largest WebSocket
// message or a result of the largest tensor fits with room to spare, while
// a corrupt length cannot make the reader allocate gigabytes.
const maxFrame = 2 << 30

// helloMsg is a worker's first frame.
type helloMsg struct {
	Protocol int `json:"protocol"`
	PID      int `json:"pid"`
}

// frame is one frame read from a pipe.
type frame struct {
	kind    byte
	payload []byte
}

// kindName names a frame kind for error messages.
func kindName(kind byte) string {
	switch kind {
	case frameHello:
		return "hello"
	case frameJob:
		return "job"
	case frameCancel:
		return "cancel"
	case frameProgress:
		return "progress"
	case frameResult:
		return "result"
	}
	return fmt.Sprintf("unknown kind %d", kind)
}

// writeFrame writes one frame to w and flushes it. It is not safe for
// concurrent use: each side serializes its writes.
func writeFrame(w *bufio.Writer, kind byte, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("%s frame of %d bytes exceeds the pipe's limit of %d", kindName(kind), len(payload), maxFrame)
	}
	var h [frameHeaderLen]byte
	binary.LittleEndian.PutUint32(h[:4], uint32(len(payload)))
	h[4] = kind
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("writing %s frame: %w", kindName(kind), err)
	}
	if _, err := w.Write(payload); err != nil {
		return fmt.Errorf("writing %s frame: %w", kindName(kind), err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing %s frame: %w", kindName(kind), err)
	}
	return nil
}

// readFrame reads one frame whose kind is one of accept. It returns io.EOF
// when r ends cleanly between frames, io.ErrUnexpectedEOF when it ends
// inside one. The payload is freshly allocated and 64-byte aligned, so
// tensors decoded from it alias it without a copy, and it is never reused.
func readFrame(r *bufio.Reader, accept ...byte) (frame, error) {
	var h [frameHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	n, kind := binary.LittleEndian.Uint32(h[:4]), h[4]
	known := false
	for _, k := range accept {
		known = known || k == kind
	}
	// Checking the kind before the length catches text written to the pipe
	// by mistake (its bytes are printable, no kind is) before allocating.
	if !known {
		return frame{}, fmt.Errorf("pipe protocol: unexpected frame kind %d (header % x): is something else writing to the pipe?", kind, h)
	}
	if n > maxFrame {
		return frame{}, fmt.Errorf("pipe protocol: %s frame of %d bytes exceeds the limit of %d", kindName(kind), n, maxFrame)
	}
	p := tensor.AlignedBytes(int(n))
	if _, err := io.ReadFull(r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, fmt.Errorf("reading %s frame of %d bytes: %w", kindName(kind), n, err)
	}
	return frame{kind: kind, payload: p}, nil
}

// cancelPayload encodes a cancel frame's payload.
func cancelPayload(id int64) []byte {
	return binary.LittleEndian.AppendUint64(nil, uint64(id))
}

// parseCancel decodes a cancel frame's payload.
func parseCancel(p []byte) (int64, error) {
	if len(p) != 8 {
		return 0, fmt.Errorf("pipe protocol: cancel frame of %d bytes, want 8", len(p))
	}
	return int64(binary.LittleEndian.Uint64(p)), nil
}

// parseHello decodes and checks a hello frame's payload.
func parseHello(p []byte) (helloMsg, error) {
	var h helloMsg
	if err := json.Unmarshal(p, &h); err != nil {
		return h, fmt.Errorf("pipe protocol: bad hello %q: %w", p, err)
	}
	if h.Protocol != pipeProtocol {
		return h, fmt.Errorf("pipe protocol: worker speaks version %d, this server %d: is the worker command the same binary?", h.Protocol, pipeProtocol)
	}
	return h, nil
}

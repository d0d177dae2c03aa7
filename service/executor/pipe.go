package executor

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// The protocol between the subprocess executor and a worker, version 3.
//
// The server gives each worker an arena (shm_arena.go): a memfd passed as
// an extra descriptor at exec, which both processes map. Jobs and results
// travel there, tensors included, as messages (shm_codec.go) that the
// other side reads in place: the worker's kernels read their arguments
// straight from the arena, and the server copies a result's tensors out
// once, because the arena is overwritten by the next job. The pipes (the
// worker's stdin and stdout) carry only frames of a few bytes:
//
//	[uint32 LE payload length][1 byte kind][payload]
//
// The worker speaks first, with a hello on the pipe (its protocol version
// and pid), after it has mapped the arena and checked the control page.
// Then, one job at a time:
//
//  1. The server lays the job out in the arena after the control page,
//     stores its header length, and increments the job sequence number
//     (ctlJobSeq).
//  2. The worker, polling that number, takes the job: it stores the number
//     in ctlTaken (so that the server knows whether a worker that died had
//     started the job), runs it, lays the result out after the job, stores
//     its offset and header length, and increments the result sequence
//     number (ctlResSeq). Meanwhile it may send progress frames.
//  3. The server, polling that number, reads the result.
//
// Each side polls for a short while (SubprocessConfig.Spin) after its last
// activity, so that a stream of small jobs never waits for a process to be
// woken, which costs tens of microseconds. Then it sets its sleep flag in
// the control page (ctlWorkerSleeping, ctlServerSleeping) and blocks
// reading its pipe. A side that posts checks the other's flag after
// posting, clears it, and if it was set sends a wake frame: the flag is set
// before the final check of the sequence number and the number is stored
// before the flag is read, so no wake-up is lost (a spare one is possible,
// and ignored). To cancel the running job, the server stores its id in
// ctlCancel and sends a cancel frame; the worker also checks ctlCancel when
// it takes a job, so a cancel that overtakes its job is not lost. A job
// message carries the threads the server granted the job: beyond its own,
// one per idle slot lent to it, which the server recalls through
// ctlHelpStop and ctlHelping (worker_threads.go). When its stdin ends, the
// worker exits.
const (
	frameHello    byte = 1 // worker → server: JSON helloMsg
	frameWake     byte = 2 // either way, empty: something was posted in the arena while you slept
	frameCancel   byte = 3 // server → worker: the 8-byte LE id of the job to cancel
	frameProgress byte = 4 // worker → server: the 8-byte LE job id and the fraction done as an f64
)

// pipeProtocol is the version a worker announces in its hello and finds in
// the arena's control page.
const pipeProtocol = 3

// frameHeaderLen is the size of a frame's length and kind.
const frameHeaderLen = 5

// maxFrame bounds a frame's payload: frames are small (a hello, an id),
// and a corrupt length must not make the reader allocate much.
const maxFrame = 64 << 10

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
	case frameWake:
		return "wake"
	case frameCancel:
		return "cancel"
	case frameProgress:
		return "progress"
	}
	return fmt.Sprintf("unknown kind %d", kind)
}

// writeFrame writes one frame to w in a single write, so that frames from
// one writer never interleave on a pipe. It is not safe for concurrent use:
// each side serializes its writes.
func writeFrame(w io.Writer, kind byte, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("%s frame of %d bytes exceeds the pipe's limit of %d", kindName(kind), len(payload), maxFrame)
	}
	var small [frameHeaderLen + 16]byte
	b := small[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, kind)
	b = append(b, payload...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing %s frame: %w", kindName(kind), err)
	}
	return nil
}

// readFrame reads one frame whose kind is one of accept. It returns io.EOF
// when r ends cleanly between frames, io.ErrUnexpectedEOF when it ends
// inside one.
func readFrame(r io.Reader, accept ...byte) (frame, error) {
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
	var p []byte
	if n > 0 {
		p = make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return frame{}, fmt.Errorf("reading %s frame of %d bytes: %w", kindName(kind), n, err)
		}
	}
	return frame{kind: kind, payload: p}, nil
}

// idPayload encodes a cancel frame's payload.
func idPayload(id int64) []byte {
	return binary.LittleEndian.AppendUint64(nil, uint64(id))
}

// parseID decodes a cancel frame's payload.
func parseID(f frame) (int64, error) {
	if len(f.payload) != 8 {
		return 0, fmt.Errorf("pipe protocol: %s frame of %d bytes, want 8", kindName(f.kind), len(f.payload))
	}
	return int64(binary.LittleEndian.Uint64(f.payload)), nil
}

// progressPayload encodes a progress frame's payload.
func progressPayload(id int64, fraction float64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(id))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(fraction))
}

// parseProgress decodes a progress frame's payload.
func parseProgress(p []byte) (id int64, fraction float64, err error) {
	if len(p) != 16 {
		return 0, 0, fmt.Errorf("pipe protocol: progress frame of %d bytes, want 16", len(p))
	}
	return int64(binary.LittleEndian.Uint64(p)), math.Float64frombits(binary.LittleEndian.Uint64(p[8:])), nil
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

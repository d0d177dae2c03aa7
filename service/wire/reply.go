package wire

import (
	"encoding/json"
	"math"
	"strconv"
)

// Stats describes how a request ran; a success reply may carry it.
type Stats struct {
	Exec    string `json:"exec"`
	Impl    string `json:"impl"`
	QueueUS int64  `json:"queue_us"`
	RunUS   int64  `json:"run_us"`
	Worker  int    `json:"worker,omitempty"`
	// Node names the cluster node that ran the request; only a server
	// that is part of a cluster (crunch serve --nats) sets it.
	Node string `json:"node,omitempty"`
}

// Reply is a reply message: a success, a failure or a progress message.
type Reply struct {
	ID int64
	// OK marks a success; Result and Stats (optional) hold it. Otherwise
	// Error says what failed.
	OK     bool
	Result Result
	Stats  *Stats
	Error  *Error
	// Progress, when non-nil, makes this a progress message (0 to 1); OK,
	// Result, Stats and Error are then unused.
	Progress *float64
}

// EncodeReply encodes rep as a text or binary message and reports which form
// it chose: a text reply whose result holds a NaN or ±Inf in a tensor is sent
// in binary form instead (isBinary is then true). A reply to a message whose
// id could not be read has ID 0. Errors are *Error with code internal: each is
// a bug in the reply.
func EncodeReply(rep *Reply, binary bool) (msg []byte, isBinary bool, err error) {
	m, err := EncodeReplyMessage(rep, binary)
	if err != nil {
		return nil, false, err
	}
	return m.Bytes(), m.Binary, nil
}

// EncodeReplyMessage is EncodeReply keeping the message in parts, for
// writing it out without assembling it (m.Binary tells the form chosen).
func EncodeReplyMessage(rep *Reply, binary bool) (*Message, error) {
	m, nonfinite, e := encodeReply(rep, binary)
	if e != nil && nonfinite && !binary {
		m, _, e = encodeReply(rep, true)
	}
	if e != nil {
		e.Code = Internal
		return nil, e
	}
	return m, nil
}

func encodeReply(rep *Reply, binary bool) (_ *Message, nonfinite bool, _ *Error) {
	if rep == nil {
		return nil, false, invalid("nil reply")
	}
	if rep.ID < 0 || rep.ID > MaxID {
		return nil, false, invalid("reply id %d is not from 0 to 2^53-1", rep.ID)
	}
	e := &encoder{binary: binary, b: openObject(rep.ID), structured: true}
	switch {
	case rep.Progress != nil:
		p := *rep.Progress
		if !(p >= 0) { // NaN too
			p = 0
		}
		e.b = append(e.b, `,"progress":`...)
		e.b = appendFloat(e.b, min(p, 1), 64)
	case rep.OK:
		e.b = append(e.b, `,"ok":true,"result":`...)
		if err := e.values("result", rep.Result); err != nil {
			return nil, e.nonfinite, err
		}
		if rep.Stats != nil {
			s, err := json.Marshal(rep.Stats)
			if err != nil {
				return nil, false, invalid("stats: %v", err)
			}
			e.b = append(e.b, `,"stats":`...)
			e.b = append(e.b, s...)
		}
	case rep.Error == nil:
		return nil, false, invalid("reply %d is neither ok nor has an error", rep.ID)
	default:
		code := rep.Error.Code
		if code == "" {
			code = Internal
		}
		e.b = append(e.b, `,"ok":false,"error":{"code":`...)
		e.b = appendString(e.b, string(code))
		e.b = append(e.b, `,"message":`...)
		e.b = appendString(e.b, rep.Error.Message)
		if code == Overloaded {
			e.b = append(e.b, `,"retry_after_ms":`...)
			e.b = strconv.AppendInt(e.b, max(rep.Error.RetryAfterMS, 0), 10)
		}
		e.b = append(e.b, '}')
	}
	msg, err := e.finish()
	return msg, false, err
}

// DecodeReply decodes a reply from a text (binary=false) or binary message.
// Its errors are *Error with code invalid_argument. Tensors of a binary reply
// alias msg wherever they are aligned for their dtype.
func DecodeReply(binary bool, msg []byte) (*Reply, error) {
	return DecodeReplyShm(binary, msg, nil)
}

// DecodeReplyShm is DecodeReply on a connection with shared memory: shm
// gives the memory of the result tensors placed there.
func DecodeReplyShm(binary bool, msg []byte, shm ShmSlicer) (*Reply, error) {
	return withError(decodeReply(binary, msg, shm))
}

func decodeReply(binary bool, msg []byte, shm ShmSlicer) (*Reply, *Error) {
	m, id, err := openMessage(binary, msg, shm, 0)
	if err != nil {
		return nil, err
	}
	rep := &Reply{ID: id}
	if _, ok := m.fields["progress"]; ok {
		p, err := m.float("progress")
		if err != nil {
			return nil, err
		}
		rep.Progress = &p
		return rep, nil
	}
	okRaw := m.fields["ok"]
	if isNull(okRaw) {
		return nil, invalid(`reply has neither "ok" nor "progress"`)
	}
	if rep.OK, err = m.bool("ok"); err != nil {
		return nil, err
	}
	if !rep.OK {
		if rep.Error, err = parseError(m.fields["error"]); err != nil {
			return nil, err
		}
		return rep, nil
	}
	if err := m.buffers(); err != nil {
		return nil, err
	}
	m.dec.structured = true
	if rep.Result, err = m.dec.values("result", "result", m.fields["result"]); err != nil {
		return nil, err
	}
	if raw := m.fields["stats"]; !isNull(raw) {
		rep.Stats = new(Stats)
		if e := json.Unmarshal(raw, rep.Stats); e != nil {
			return nil, invalid(`"stats": %v`, e)
		}
	}
	return rep, nil
}

// parseError decodes a failure reply's error object.
func parseError(raw []byte) (*Error, *Error) {
	if isNull(raw) || raw[0] != '{' {
		return nil, invalid(`a failure reply's "error" must be an object {"code", "message"}, got %s`, describe(raw))
	}
	f, err := fields(raw)
	if err != nil {
		return nil, within(`"error"`, err)
	}
	em := &message{fields: f}
	code, err := em.string("code")
	if err != nil {
		return nil, within(`"error"`, err)
	}
	if code == "" {
		return nil, invalid(`"error" has no "code"`)
	}
	text, err := em.string("message")
	if err != nil {
		return nil, within(`"error"`, err)
	}
	e := &Error{Code: Code(code), Message: text}
	if e.Code == Overloaded {
		if e.RetryAfterMS, err = em.int("retry_after_ms", "milliseconds"); err != nil {
			return nil, within(`"error"`, err)
		}
	}
	return e, nil
}

// Equal reports whether r and q are the same reply, their tensors bit for
// bit.
func (r *Reply) Equal(q *Reply) bool {
	if r == nil || q == nil {
		return r == q
	}
	if r.ID != q.ID || (r.Progress == nil) != (q.Progress == nil) {
		return false
	}
	if r.Progress != nil {
		return *r.Progress == *q.Progress || math.IsNaN(*r.Progress) && math.IsNaN(*q.Progress)
	}
	if r.OK != q.OK {
		return false
	}
	if !r.OK {
		if r.Error == nil || q.Error == nil {
			return r.Error == q.Error
		}
		return *r.Error == *q.Error
	}
	if (r.Stats == nil) != (q.Stats == nil) || r.Stats != nil && *r.Stats != *q.Stats {
		return false
	}
	return equalValues(r.Result, q.Result)
}

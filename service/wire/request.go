package wire

import (
	"strconv"
)

// The values a request's reply field may take ("" means the field is absent:
// the request's own form). Exec and impl are any strings: the server answers
// a name it lacks with not_found, as it does an unknown op.
var replyForms = []string{"binary", "text"}

// Request is a decoded request message.
type Request struct {
	ID   int64
	Op   string
	Args Args
	// Exec and Impl choose the executor and implementation, as sent: ""
	// (absent) and "auto" both mean auto (the server fills defaults). The
	// codec takes any name; the server resolves it.
	Exec string
	Impl string
	// TimeoutMS is the deadline in milliseconds; 0 means none was given.
	TimeoutMS int64
	// Threads is the most threads the request's kernel may use (on the
	// pool and subprocess executors: their idle workers); 0 means none was
	// given (the server's default). A request may only send 1 or more.
	Threads int64
	// Progress asks for progress messages.
	Progress bool
	// Reply asks for a reply form: "", "binary" or "text".
	Reply string
	// ShmOut is where the server may write result tensors, in shared
	// memory (nil: in the reply).
	ShmOut *ShmWindow
	// Binary is set by DecodeRequest: the request arrived as a binary
	// message. EncodeRequest ignores it.
	Binary bool
}

// DecodeRequest decodes a request from a text (binary=false) or binary
// message. Its errors are *Error with code invalid_argument. When the id
// could be read, the error comes with a non-nil *Request holding the ID (and
// Reply and Op, if they were read too), so that the server can address its
// error reply in the form asked for;
// otherwise the request is nil.
//
// Tensors of a binary request alias msg wherever they are aligned for their
// dtype: msg must not be reused while the request is in use.
func DecodeRequest(binary bool, msg []byte) (*Request, error) {
	return DecodeRequestShm(binary, msg, nil)
}

// DecodeRequestShm is DecodeRequest on a connection with shared memory:
// shm gives the memory of the tensors placed there (nil: refused, as on a
// connection without it).
func DecodeRequestShm(binary bool, msg []byte, shm ShmSlicer) (*Request, error) {
	return withError(decodeRequest(binary, msg, shm))
}

func decodeRequest(binary bool, msg []byte, shm ShmSlicer) (*Request, *Error) {
	m, id, err := openMessage(binary, msg, shm, 1)
	if err != nil {
		return nil, err
	}
	req := &Request{ID: id, Binary: binary}
	// The reply form is read next: an error in the rest of the message is
	// answered in the form the request asked for.
	if req.Reply, err = m.string("reply", replyForms...); err != nil {
		return &Request{ID: id, Binary: binary}, err
	}
	if err := m.readRequest(req); err != nil {
		return &Request{ID: req.ID, Op: req.Op, Reply: req.Reply, Binary: binary}, err
	}
	return req, nil
}

// readRequest reads every field of a request but its id and reply form
// into req.
func (m *message) readRequest(req *Request) *Error {
	raw := m.fields["op"]
	if isNull(raw) {
		return invalid(`"op" is missing`)
	}
	op, err := m.string("op")
	if err != nil {
		return err
	}
	if op == "" {
		return invalid(`"op" is empty`)
	}
	req.Op = op
	if req.Exec, err = m.string("exec"); err != nil {
		return err
	}
	if req.Impl, err = m.string("impl"); err != nil {
		return err
	}
	if req.TimeoutMS, err = m.int("timeout_ms", "milliseconds"); err != nil {
		return err
	}
	if req.Progress, err = m.bool("progress"); err != nil {
		return err
	}
	if req.Threads, err = m.int("threads", "threads"); err != nil {
		return err
	}
	if req.Threads == 0 && !isNull(m.fields["threads"]) {
		return invalid(`"threads" must be at least 1, got 0`)
	}
	if req.ShmOut, err = m.shmOut(); err != nil {
		return err
	}
	if err := m.buffers(); err != nil {
		return err
	}
	args, err := m.dec.values("args", "argument", m.fields["args"])
	if err != nil {
		return err
	}
	req.Args = args
	return nil
}

// EncodeRequest encodes req as a text or binary message. It checks req as
// DecodeRequest would and fails with an invalid_argument *Error, in
// particular when a text message would have to carry a NaN or ±Inf. It
// writes exec, impl, timeout_ms, progress and reply only when they are set.
func EncodeRequest(req *Request, binary bool) ([]byte, error) {
	m, err := EncodeRequestMessage(req, binary)
	if err != nil {
		return nil, err
	}
	return m.Bytes(), nil
}

// EncodeRequestMessage is EncodeRequest keeping the message in parts, for
// writing it out without assembling it.
func EncodeRequestMessage(req *Request, binary bool) (*Message, error) {
	return withError(encodeRequest(req, binary))
}

func encodeRequest(req *Request, binary bool) (*Message, *Error) {
	switch {
	case req == nil:
		return nil, invalid("nil request")
	case req.ID < 1 || req.ID > MaxID:
		return nil, invalid("request id %d is not from 1 to 2^53-1", req.ID)
	case req.Op == "":
		return nil, invalid("request has no op")
	case req.TimeoutMS < 0:
		return nil, invalid("request timeout %d ms is negative", req.TimeoutMS)
	case req.Threads < 0:
		return nil, invalid("request threads %d is negative", req.Threads)
	}
	if err := oneOf("reply", req.Reply, replyForms); err != nil {
		return nil, err
	}
	e := &encoder{binary: binary, b: openObject(req.ID)}
	e.b = append(e.b, `,"op":`...)
	e.b = appendString(e.b, req.Op)
	if len(req.Args) > 0 {
		e.b = append(e.b, `,"args":`...)
		if err := e.values("argument", req.Args); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct{ name, v string }{{"exec", req.Exec}, {"impl", req.Impl}} {
		if f.v != "" {
			e.b = append(e.b, `,"`+f.name+`":`...)
			e.b = appendString(e.b, f.v)
		}
	}
	if req.TimeoutMS != 0 {
		e.b = append(e.b, `,"timeout_ms":`...)
		e.b = strconv.AppendInt(e.b, req.TimeoutMS, 10)
	}
	if req.Progress {
		e.b = append(e.b, `,"progress":true`...)
	}
	if req.Threads != 0 {
		e.b = append(e.b, `,"threads":`...)
		e.b = strconv.AppendInt(e.b, req.Threads, 10)
	}
	if req.Reply != "" {
		e.b = append(e.b, `,"reply":`...)
		e.b = appendString(e.b, req.Reply)
	}
	if req.ShmOut != nil {
		e.b = appendShmOut(e.b, req.ShmOut)
	}
	return e.finish()
}

// ReplyBinary reports whether the reply to r should be binary: if r asked
// for a form, that one, else r's own form. (EncodeReply may still send a text
// reply in binary form; see there.)
func (r *Request) ReplyBinary() bool {
	if r.Reply != "" {
		return r.Reply == "binary"
	}
	return r.Binary
}

// Equal reports whether r and q are the same request (Binary aside), their
// tensors bit for bit.
func (r *Request) Equal(q *Request) bool {
	if r == nil || q == nil {
		return r == q
	}
	return r.ID == q.ID && r.Op == q.Op && r.Exec == q.Exec && r.Impl == q.Impl &&
		r.TimeoutMS == q.TimeoutMS && r.Threads == q.Threads && r.Progress == q.Progress && r.Reply == q.Reply &&
		equalWindows(r.ShmOut, q.ShmOut) && equalValues(r.Args, q.Args)
}

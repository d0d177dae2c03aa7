package executor

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Messages in the arena. A job or a result is a small binary header
// followed by its tensors' bytes:
//
//	header (little-endian):
//	  job:    u64 id | u8 flags (1: progress) | str op | str impl | values
//	  result: u64 id | u8 status, then
//	          status 0 (ok):     values
//	          status 1 (failed): u64 0 | str code | str message | i64 retryAfterMS
//	values: u64 dataLen | u16 count, then per value: str name | u8 kind | either
//	  kind 0 (JSON scalar): str JSON text (empty: null), or
//	  kind 1 (tensor):      u8 dtype | u8 ndim | ndim × u64 dim | u64 rel | u64 nbytes
//	str: u32 length, then the bytes
//
// The data starts at the first 64-byte boundary after the header; a
// tensor's rel is its offset from there (a multiple of 64), and dataLen is
// the data's whole length. Both sides are the same binary (the hello's
// protocol number says so), so dtypes travel as tensor.DType values.
const (
	msgOK     = 0
	msgFailed = 1

	valueJSON   = 0
	valueTensor = 1

	flagProgress = 1
)

// msgAlign is the alignment of the message data and of each tensor in it:
// a cache line, and enough for every dtype and for SIMD loads.
const msgAlign = 64

func alignMsg(n int) int { return (n + msgAlign - 1) &^ (msgAlign - 1) }

// shmMsg builds one message: its header, and the tensors to place after
// it. A slot reuses one for every job, so that building allocates nothing
// once it has grown.
type shmMsg struct {
	hdr  []byte
	bufs [][]byte // tensor data in header order
	data int      // the data's length so far, each tensor 64-byte aligned
}

func (m *shmMsg) reset() {
	m.hdr = m.hdr[:0]
	clear(m.bufs) // let the caller's tensors go
	m.bufs = m.bufs[:0]
	m.data = 0
}

func (m *shmMsg) u8(v uint8)   { m.hdr = append(m.hdr, v) }
func (m *shmMsg) u16(v uint16) { m.hdr = binary.LittleEndian.AppendUint16(m.hdr, v) }
func (m *shmMsg) u64(v uint64) { m.hdr = binary.LittleEndian.AppendUint64(m.hdr, v) }
func (m *shmMsg) str(s []byte) {
	m.hdr = binary.LittleEndian.AppendUint32(m.hdr, uint32(len(s)))
	m.hdr = append(m.hdr, s...)
}

// job encodes a job for the worker, threads being the threads its kernel
// may use there.
func (m *shmMsg) job(id int64, job *Job, threads int) error {
	m.reset()
	m.u64(uint64(id))
	var flags uint8
	if job.Progress != nil {
		flags |= flagProgress
	}
	m.u8(flags)
	m.u16(uint16(min(max(threads, 1), math.MaxUint16)))
	m.str(unsafe.Slice(unsafe.StringData(job.Call.Op.Name), len(job.Call.Op.Name)))
	m.str(unsafe.Slice(unsafe.StringData(job.Impl), len(job.Impl)))
	return m.values(job.Args)
}

// result encodes a job's reply: a result or an error.
func (m *shmMsg) result(id int64, res wire.Result, failure *wire.Error) error {
	m.reset()
	m.u64(uint64(id))
	if failure != nil {
		m.u8(msgFailed)
		m.u64(0)
		m.str([]byte(failure.Code))
		m.str([]byte(failure.Message))
		m.u64(uint64(failure.RetryAfterMS))
		return nil
	}
	m.u8(msgOK)
	return m.values(res)
}

// values encodes a map of values after the data length they imply, which
// is known only once every tensor is placed: it is patched in at the end.
func (m *shmMsg) values(vs map[string]wire.Value) error {
	lenAt := len(m.hdr)
	m.u64(0)
	if len(vs) > math.MaxUint16 {
		return fmt.Errorf("%d values, more than a message holds", len(vs))
	}
	m.u16(uint16(len(vs)))
	for name, v := range vs {
		m.str(unsafe.Slice(unsafe.StringData(name), len(name)))
		if v.Tensor == nil {
			m.u8(valueJSON)
			m.str(v.JSON)
			continue
		}
		t := v.Tensor
		if err := t.Validate(); err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		m.u8(valueTensor)
		m.u8(uint8(t.DType))
		m.u8(uint8(len(t.Shape)))
		for _, d := range t.Shape {
			m.u64(uint64(d))
		}
		m.u64(uint64(m.data))
		m.u64(uint64(len(t.Data)))
		m.bufs = append(m.bufs, t.Data)
		m.data = alignMsg(m.data + len(t.Data))
		if m.data > maxMessage {
			return fmt.Errorf("tensors take over %d bytes, more than a message holds", maxMessage)
		}
	}
	binary.LittleEndian.PutUint64(m.hdr[lenAt:], uint64(m.data))
	return nil
}

// size returns the message's length once laid out at a 64-byte boundary.
func (m *shmMsg) size() int { return alignMsg(len(m.hdr)) + m.data }

// place copies the message into a at off (64-byte aligned), growing the
// arena as needed; it returns the message's end. The tensors are copied
// once, straight from their owners' memory into the arena.
func (m *shmMsg) place(a *arena, off int) (int, error) {
	if m.size() > maxMessage {
		return 0, fmt.Errorf("a message of %d bytes exceeds the limit of %d", m.size(), maxMessage)
	}
	end := off + m.size()
	if err := a.grow(end); err != nil {
		return 0, err
	}
	a.peak = max(a.peak, end)
	copy(a.mem[off:], m.hdr)
	base, rel := off+alignMsg(len(m.hdr)), 0
	for _, b := range m.bufs {
		copy(a.mem[base+rel:], b)
		rel = alignMsg(rel + len(b))
	}
	return end, nil
}

// shmReader decodes a message from an arena. On the worker, tensors alias
// the arena (they are read during the job and never after); on the server
// they are copied out, because the arena is overwritten by the next job
// while the result lives on with the caller: into memory from the job's
// allocator when it has one (where the reply goes), else into new memory.
type shmReader struct {
	a      *arena
	hdr    []byte
	pos    int
	base   int               // where the data starts
	end    int               // where the data ends
	copyTo bool              // copy tensors out of the arena
	alloc  kernels.Allocator // where they are copied to (nil: new memory)
	err    error
}

// newShmReader starts reading the message at off whose header has hdrLen
// bytes, checking that the header lies within the arena's file.
func newShmReader(a *arena, off, hdrLen uint64, copyOut bool) *shmReader {
	r := &shmReader{a: a, copyTo: copyOut}
	if off < arenaCtlSize || off%msgAlign != 0 || off > arenaReserve || hdrLen > maxMessage ||
		!a.backed(int(off+hdrLen)) {
		r.err = fmt.Errorf("message header [%d, +%d): %w", off, hdrLen, errArenaBounds)
		return r
	}
	r.hdr = a.mem[off : off+hdrLen]
	r.base = alignMsg(int(off + hdrLen))
	return r
}

func (r *shmReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("undecodable message at header byte %d: "+format, append([]any{r.pos}, args...)...)
	}
}

func (r *shmReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.hdr)-r.pos {
		r.fail("%d bytes wanted, %d left", n, len(r.hdr)-r.pos)
		return nil
	}
	b := r.hdr[r.pos : r.pos+n]
	r.pos += n
	return b
}

func (r *shmReader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *shmReader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *shmReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// str returns the next string's bytes, aliasing the header.
func (r *shmReader) str() []byte {
	b := r.take(4)
	if b == nil {
		return nil
	}
	return r.take(int(binary.LittleEndian.Uint32(b)))
}

// dataLen reads the message's data length and checks that the data lies
// within the arena's file.
func (r *shmReader) dataLen() {
	n := r.u64()
	if r.err != nil {
		return
	}
	if n > maxMessage || !r.a.backed(r.base+int(n)) {
		r.fail("data [%d, +%d): %v", r.base, n, errArenaBounds)
		return
	}
	r.end = r.base + int(n)
}

// job decodes a job message.
func (r *shmReader) job() (id int64, op, impl string, progress bool, threads int, args wire.Args, err error) {
	id = int64(r.u64())
	progress = r.u8()&flagProgress != 0
	threads = int(r.u16())
	op = string(r.str())
	impl = string(r.str())
	args = wire.Args(r.values())
	return id, op, impl, progress, threads, args, r.err
}

// result decodes a result message into a reply.
func (r *shmReader) result() (*wire.Reply, error) {
	rep := &wire.Reply{ID: int64(r.u64())}
	switch status := r.u8(); status {
	case msgOK:
		rep.OK = true
		rep.Result = wire.Result(r.values())
	case msgFailed:
		r.dataLen()
		rep.Error = &wire.Error{Code: wire.Code(r.str())}
		rep.Error.Message = string(r.str())
		rep.Error.RetryAfterMS = int64(r.u64())
	default:
		r.fail("result status %d", status)
	}
	return rep, r.err
}

// values decodes a map of values, preceded by the data length.
func (r *shmReader) values() map[string]wire.Value {
	r.dataLen()
	n := int(r.u16())
	if r.err != nil {
		return nil
	}
	vs := make(map[string]wire.Value, n)
	for range n {
		name := string(r.str())
		switch kind := r.u8(); kind {
		case valueJSON:
			if raw := r.str(); len(raw) > 0 {
				vs[name] = wire.Value{JSON: append([]byte(nil), raw...)}
			} else {
				vs[name] = wire.Value{}
			}
		case valueTensor:
			vs[name] = wire.Value{Tensor: r.tensor(name)}
		default:
			r.fail("value %q of kind %d", name, kind)
		}
		if r.err != nil {
			return nil
		}
	}
	return vs
}

// tensor decodes one tensor descriptor and finds its data.
func (r *shmReader) tensor(name string) *tensor.Tensor {
	dt := tensor.DType(r.u8())
	ndim := int(r.u8())
	if r.err != nil {
		return nil
	}
	if ndim > tensor.MaxDims {
		r.fail("tensor %q has %d dimensions", name, ndim)
		return nil
	}
	shape := make([]int, ndim)
	for i := range shape {
		d := r.u64()
		if d > math.MaxInt {
			r.fail("tensor %q: dimension %d is %d", name, i, d)
			return nil
		}
		shape[i] = int(d)
	}
	rel, n := r.u64(), r.u64()
	if r.err != nil {
		return nil
	}
	want, err := tensor.ByteSize(dt, shape)
	switch {
	case err != nil:
		r.fail("tensor %q: %v", name, err)
		return nil
	case uint64(want) != n:
		r.fail("tensor %q: %d bytes for %s%s", name, n, dt, tensor.FormatShape(shape))
		return nil
	case rel%msgAlign != 0 || rel > uint64(r.end-r.base) || n > uint64(r.end-r.base)-rel:
		r.fail("tensor %q at [%d, +%d) lies outside the message's %d bytes of data", name, rel, n, r.end-r.base)
		return nil
	}
	at := r.base + int(rel)
	data := r.a.mem[at : at+int(n) : at+int(n)]
	if r.copyTo {
		data = r.copyOut(name, dt, shape, data)
	}
	return &tensor.Tensor{DType: dt, Shape: shape, Data: data}
}

// copyOut copies a tensor's data out of the arena, into memory from the
// reader's allocator if it gives some, else into new memory. The server
// only writes that memory: a result of any Placement may go anywhere.
func (r *shmReader) copyOut(name string, dt tensor.DType, shape []int, data []byte) []byte {
	if r.alloc != nil {
		if t, err := r.alloc.Result(name, dt, shape, kernels.Exposed); err == nil && len(t.Data) == len(data) {
			copy(t.Data, data)
			return t.Data
		}
	}
	return tensor.AlignedCopy(data)
}

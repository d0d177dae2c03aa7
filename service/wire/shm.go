package wire

import (
	"math"
	"strconv"

	"github.com/crunchsvc/crunch/service/tensor"
)

// ShmRef places a tensor in a shared-memory region: "shm": [region, offset]
// (docs/PROTOCOL.md, "Shared memory on the same machine").
type ShmRef struct {
	Region int64
	Offset int64
}

// ShmWindow is a request's "shm_out": [region, offset, length], where the
// server may write result tensors.
type ShmWindow struct {
	Region int64
	Offset int64
	Length int64
}

// ShmSlicer gives the bytes of a place in shared memory: n bytes at off in
// region, writable if asked. The server's is the connection's lease on its
// regions, a client's its own table of mapped regions.
type ShmSlicer interface {
	Slice(region, off, n int64, writable bool) ([]byte, error)
}

// errNoShm refuses shared memory on a connection that has none.
func errNoShm(what string) *Error {
	return invalid("%s names shared memory, which needs a connection over the server's Unix socket (crunch serve --unix PATH)", what)
}

// fromShm returns the tensor that lies in shared memory at raw, a
// [region, offset] pair. Its Data is the shared memory itself.
func (d *decoder) fromShm(dt tensor.DType, shape []int, nbytes int, raw []byte) (*tensor.Tensor, *ShmRef, *Error) {
	if d.shm == nil {
		return nil, nil, errNoShm("a tensor")
	}
	v, err := intList(`"shm"`, raw, 2, "[region, offset]")
	if err != nil {
		return nil, nil, err
	}
	ref := &ShmRef{Region: v[0], Offset: v[1]}
	if ref.Offset%8 != 0 {
		return nil, nil, invalid(`"shm" offset %d is not a multiple of 8`, ref.Offset)
	}
	data, serr := d.shm.Slice(ref.Region, ref.Offset, int64(nbytes), false)
	if serr != nil {
		return nil, nil, invalid("a %s tensor of shape %s (%d bytes) in shared memory: %v", dt, tensor.FormatShape(shape), nbytes, serr)
	}
	return &tensor.Tensor{DType: dt, Shape: shape, Data: tensor.Aligned(data, dt.Align())}, ref, nil
}

// shmOut reads a request's "shm_out" window, if it has one.
func (m *message) shmOut() (*ShmWindow, *Error) {
	raw := m.fields["shm_out"]
	if isNull(raw) {
		return nil, nil
	}
	if m.dec.shm == nil {
		return nil, errNoShm(`"shm_out"`)
	}
	v, err := intList(`"shm_out"`, raw, 3, "[region, offset, length]")
	if err != nil {
		return nil, err
	}
	return &ShmWindow{Region: v[0], Offset: v[1], Length: v[2]}, nil
}

// intList decodes a list of exactly n non-negative integers.
func intList(name string, raw []byte, n int, form string) ([]int64, *Error) {
	raw = trimSpace(raw)
	bad := func() *Error {
		return invalid("%s must be %s, %d non-negative integers, got %s", name, form, n, quoteToken(raw))
	}
	if raw[0] != '[' {
		return nil, bad()
	}
	out := make([]int64, 0, n)
	err := elements(raw, func(i int, v []byte) *Error {
		if i >= n || !isNumberStart(v[0]) {
			return bad()
		}
		x, st := parseInt(v)
		if st != intOK || x < 0 || x > math.MaxInt64/2 {
			return bad()
		}
		out = append(out, x)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) != n {
		return nil, bad()
	}
	return out, nil
}

// appendShm writes the rest of a tensor object placed in shared memory.
func appendShm(b []byte, ref *ShmRef) []byte {
	b = append(b, `],"shm":[`...)
	b = strconv.AppendInt(b, ref.Region, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, ref.Offset, 10)
	return append(b, "]}"...)
}

// appendShmOut writes a request's "shm_out" member.
func appendShmOut(b []byte, w *ShmWindow) []byte {
	b = append(b, `,"shm_out":[`...)
	for i, v := range []int64{w.Region, w.Offset, w.Length} {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return append(b, ']')
}

func equalWindows(a, b *ShmWindow) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

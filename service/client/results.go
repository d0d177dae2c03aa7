package client

import (
	"slices"
	"unsafe"

	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// settle makes rep's result tensors the caller's: the first (by name) that
// has out's dtype and shape goes into out, unless the server wrote it
// there already; any other that lies in memory the client reuses (the
// pooled buffer buf the reply was read into, or a shared-memory block) is
// copied into new memory. Then buf goes back to the pool. (A Go slice
// cannot keep a mapping alive, so a result left in reused memory would
// change under its holder.)
func settle(rep *wire.Reply, buf *msgbuf.Buf, out *tensor.Tensor) {
	defer buf.Release()
	names := make([]string, 0, len(rep.Result))
	for k, v := range rep.Result {
		if v.Tensor != nil {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		v := rep.Result[k]
		t := v.Tensor
		switch {
		case out != nil && out.DType == t.DType && slices.Equal(out.Shape, t.Shape):
			if !sameStart(out.Data, t.Data) {
				copy(out.Data, t.Data)
			}
			rep.Result[k] = wire.Value{Tensor: out}
			out = nil
		case v.Shm != nil || buf != nil:
			rep.Result[k] = wire.Value{Tensor: &tensor.Tensor{DType: t.DType, Shape: t.Shape, Data: tensor.AlignedCopy(t.Data)}}
		}
	}
}

// sameStart reports whether a and b start at the same byte.
func sameStart(a, b []byte) bool {
	return len(a) > 0 && len(b) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// overlaps reports whether a and b share a byte.
func overlaps(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}

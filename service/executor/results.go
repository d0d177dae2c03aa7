package executor

import (
	"slices"
	"sync"

	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/tensor"
)

// PooledResults is a kernels.Allocator of memory that is reused: result
// tensors of msgbuf.MinSize bytes or more lie in buffers from a
// msgbuf.Pool (not zeroed, their pages faulted in already when reused),
// smaller ones on the Go heap. Release gives the buffers back once nothing
// reads the results any more. The memory is the process's own, so it
// takes results of any Placement.
type PooledResults struct {
	pool *msgbuf.Pool
	mu   sync.Mutex
	bufs []*msgbuf.Buf
}

// NewPooledResults returns an allocator taking its buffers from pool.
func NewPooledResults(pool *msgbuf.Pool) *PooledResults {
	return &PooledResults{pool: pool}
}

// Result returns a tensor of dtype dt and the given shape, its contents
// undefined.
func (r *PooledResults) Result(_ string, dt tensor.DType, shape []int, _ kernels.Placement) (*tensor.Tensor, error) {
	n, err := tensor.ByteSize(dt, shape)
	if err != nil {
		return nil, err
	}
	if n < msgbuf.MinSize {
		return &tensor.Tensor{DType: dt, Shape: slices.Clone(shape), Data: tensor.AlignedBytes(n)}, nil
	}
	b, err := r.pool.Get(n)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.bufs = append(r.bufs, b)
	r.mu.Unlock()
	return &tensor.Tensor{DType: dt, Shape: slices.Clone(shape), Data: b.Bytes(n)}, nil
}

// Release gives back every buffer handed out so far: the tensors in them
// must not be used afterwards.
func (r *PooledResults) Release() {
	r.mu.Lock()
	bufs := r.bufs
	r.bufs = nil
	r.mu.Unlock()
	for _, b := range bufs {
		b.Release()
	}
}

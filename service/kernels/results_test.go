package kernels_test

import (
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
)

// poisoned is an Allocator whose memory holds all-ones bytes (NaN in
// floats, the largest value in unsigned integers), as pooled or shared
// memory may hold anything: a kernel that leaves an element unwritten
// fails its test. The table runners run every case with it.
type poisoned struct{}

func (poisoned) Result(_ string, dt tensor.DType, shape []int, _ kernels.Placement) (*tensor.Tensor, error) {
	t, err := tensor.New(dt, shape...)
	if err != nil {
		return nil, err
	}
	for i := range t.Data {
		t.Data[i] = 0xff
	}
	return t, nil
}

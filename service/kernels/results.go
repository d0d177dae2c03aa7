package kernels

import (
	"fmt"

	"github.com/crunchsvc/crunch/service/tensor"
)

// Placement says what memory a result tensor may be computed in, by what
// its kernel does with that memory.
type Placement int

const (
	// Exposed: the kernel's memory safety does not depend on what it reads
	// back from the result. It only writes it, or reads back what it wrote
	// for arithmetic alone (gemm's accumulation, an in-place FFT, LU's
	// right-hand sides), never to choose which memory to touch. Such a
	// result may be computed in memory a client can write meanwhile (its
	// shared-memory window): a client that does so spoils its own answer
	// and nothing else.
	Exposed Placement = iota
	// Private: the kernel reads back what it wrote to decide where to read
	// or write next (a radix sort scatters each key by the key it reads),
	// so values changed under it could send it out of bounds. Such a
	// result must be computed in memory only the server can write.
	Private
)

// Allocator supplies the memory of a call's result tensors. The server
// gives each request its own: memory the reply is going to (a client's
// shared-memory window) or memory it gives back once the reply is written.
// A call's kernel asks it from one goroutine at a time.
type Allocator interface {
	// Result returns a tensor of dtype dt and the given shape for the
	// result called name, in memory that where allows. Its contents are
	// undefined: the kernel writes every element.
	Result(name string, dt tensor.DType, shape []int, where Placement) (*tensor.Tensor, error)
}

// Out is how a run gets its result tensors' memory: from its call's
// Allocator, or from the Go heap when it has none.
type Out struct{ alloc Allocator }

// Tensor returns memory for the result called name, of dtype dt and the
// given shape. Its contents are undefined (zeros from the Go heap, anything
// from an Allocator): the kernel must write every element. where says
// whether the kernel's memory safety depends on what it reads back.
func (o Out) Tensor(name string, dt tensor.DType, where Placement, shape ...int) (*tensor.Tensor, error) {
	if o.alloc == nil {
		return tensor.New(dt, shape...)
	}
	t, err := o.alloc.Result(name, dt, shape, where)
	if err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil { // an Allocator's bug must not reach a kernel
		return nil, fmt.Errorf("result %q from the allocator: %w", name, err)
	}
	return t, nil
}

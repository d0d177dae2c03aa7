// Package kernels is crunch's registry of operations: for each op, its
// arguments and their validation, its implementations (C through package
// cgo, Go or gonum), and a cost hint. The server, the executors and the
// worker subprocess all run ops through this one registry, so a request
// means the same thing wherever it runs.
//
// Each op lives in its own file (modsum.go, gemm.go, ...) and registers
// itself in the default registry.
package kernels

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/wire"
)

// Implementation names, as requests spell them in "impl".
const (
	ImplAuto  = "auto"
	ImplC     = "c"
	ImplGo    = "go"
	ImplGonum = "gonum"
)

// Op is one operation of the protocol.
type Op struct {
	Name string
	// Summary is one line for tables and client docstrings; Doc is the
	// full contract.
	Summary string
	Doc     string
	Params  []Param
	Results []Param
	// Impls lists the implementations; the first is the default.
	Impls []string
	// Bind checks what Params cannot say (shapes that must agree, say) and
	// binds the arguments to runnable code. It sees only arguments that
	// passed Params' checks; callers use Prepare.
	Bind func(args Args) (*Call, error)
}

// Call is a request whose arguments were validated: ready to run with any
// of its op's implementations, on any executor.
type Call struct {
	Op *Op
	// Work estimates the call's cost in elementary operations (multiply-adds
	// for gemm, iterations for modsum). exec=auto decides by it.
	Work float64
	// OutElems is the number of elements the result will hold, so that a
	// server can refuse an oversized result before allocating it.
	OutElems float64
	run      map[string]RunFunc
}

// RunFunc computes a call's result with one implementation. x carries
// cancellation and progress (it may be nil); out gives the memory of the
// result tensors.
type RunFunc func(x *cgo.Ctx, out Out) (wire.Result, error)

// NewCall binds prepared code to op: run maps each implementation's name
// to a function computing the result. Ops build their calls with it; tests
// use it for calls no registry holds.
func NewCall(op *Op, work, outElems float64, run map[string]RunFunc) *Call {
	return &Call{Op: op, Work: work, OutElems: outElems, run: run}
}

// Prepare validates args for o: first against o.Params (one code path and
// one wording for every op), then by o.Bind. Errors are *wire.Error
// (invalid_argument or too_large) with a message naming the op and the
// argument.
func (o *Op) Prepare(args wire.Args) (*Call, error) {
	bound, err := o.bindArgs(args)
	if err != nil {
		return nil, err
	}
	c, err := o.Bind(bound)
	if err != nil {
		return nil, err
	}
	c.Op = o // set here: an op's Bind cannot name its own Op variable
	return c, nil
}

// Resolve turns a request's impl ("", "auto" or a name) into one of o's
// implementations, or a not_found error.
func (o *Op) Resolve(impl string) (string, error) {
	if impl == "" || impl == ImplAuto {
		return o.Impls[0], nil
	}
	if slices.Contains(o.Impls, impl) {
		return impl, nil
	}
	return "", wire.Errorf(wire.NotFound, "%s: no implementation %q (has %s)", o.Name, impl, strings.Join(o.Impls, ", "))
}

// Run executes the call with implementation impl (already resolved), its
// result tensors on the Go heap. x carries cancellation and progress; it
// may be nil. A cancelled run returns an error matching cgo.ErrCanceled.
func (c *Call) Run(x *cgo.Ctx, impl string) (wire.Result, error) {
	return c.RunInto(x, impl, nil)
}

// RunInto is Run with the result tensors' memory from alloc (nil: the Go
// heap).
func (c *Call) RunInto(x *cgo.Ctx, impl string, alloc Allocator) (wire.Result, error) {
	run, ok := c.run[impl]
	if !ok {
		return nil, wire.Errorf(wire.NotFound, "%s: no implementation %q", c.Op.Name, impl)
	}
	return run(x, Out{alloc})
}

// Registry maps op names to ops.
type Registry struct {
	mu  sync.RWMutex
	ops map[string]*Op
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{ops: make(map[string]*Op)}
}

// Register adds op; a second op with the same name is a programming error.
func (r *Registry) Register(op *Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.ops[op.Name]; dup {
		panic(fmt.Sprintf("kernels: op %q registered twice", op.Name))
	}
	r.ops[op.Name] = op
}

// Lookup returns the op called name, or a not_found error.
func (r *Registry) Lookup(name string) (*Op, error) {
	r.mu.RLock()
	op, ok := r.ops[name]
	r.mu.RUnlock()
	if !ok {
		return nil, wire.Errorf(wire.NotFound, "unknown op %q", name)
	}
	return op, nil
}

// Ops returns every op, sorted by name.
func (r *Registry) Ops() []*Op {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Op, 0, len(r.ops))
	for _, op := range r.ops {
		out = append(out, op)
	}
	slices.SortFunc(out, func(a, b *Op) int { return strings.Compare(a.Name, b.Name) })
	return out
}

var defaultRegistry = NewRegistry()

// Default returns the registry holding every op of the protocol.
func Default() *Registry { return defaultRegistry }

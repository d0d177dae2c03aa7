package executor

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// Test-only ops that misbehave the ways a worker process must survive.
// They live in a _test.go file so that no normal build can reach them, and
// in a registry of their own (testRegistry) that the test binary uses both
// as the server, to prepare jobs, and as the worker, to run them.
var testOps = map[string]func(x *cgo.Ctx, args kernels.Args) (wire.Result, error){
	// crash dies of a real SIGSEGV: the signal's disposition is reset to
	// the default (the Go runtime would turn the fault into a panic) and
	// the process writes through a nil pointer.
	"crash": func(*cgo.Ctx, kernels.Args) (wire.Result, error) {
		syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}) // no core file in the package directory
		var dfl [4]uint64                                         // struct sigaction: SIG_DFL, no flags, empty mask
		if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGSEGV),
			uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0); e != 0 {
			return nil, fmt.Errorf("rt_sigaction: %v", e)
		}
		*nilInt = 1
		return nil, fmt.Errorf("survived a nil write")
	},
	// exit says goodbye on stderr and exits with status 3.
	"exit": func(*cgo.Ctx, kernels.Args) (wire.Result, error) {
		fmt.Fprintln(os.Stderr, "exit op: goodbye")
		os.Exit(3)
		return nil, nil
	},
	// spin loops forever and never polls its Ctx.
	"spin": func(*cgo.Ctx, kernels.Args) (wire.Result, error) {
		for {
		}
	},
	// alloc allocates and touches memory until something stops it.
	"alloc": func(*cgo.Ctx, kernels.Args) (wire.Result, error) {
		var hoard [][]byte
		for {
			b := make([]byte, 32<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hoard = append(hoard, b)
		}
	},
	// deaf sleeps for "ms" milliseconds without polling its Ctx, like a
	// kernel slow to notice a cancel, then marks deafEnded.
	"deaf": func(_ *cgo.Ctx, args kernels.Args) (wire.Result, error) {
		ms := args.Int("ms")
		time.Sleep(time.Duration(ms) * time.Millisecond) // the op itself: busy, deaf to its Ctx
		deafEnded.Store(true)
		return wire.Result{}, nil
	},
	// stdout prints to standard output, which must not corrupt the pipe,
	// then succeeds.
	"stdout": func(*cgo.Ctx, kernels.Args) (wire.Result, error) {
		fmt.Println("stray output from a kernel")
		return wire.Result{"ok": wire.Bool(true)}, nil
	},
}

var nilInt *int

// deafEnded is set when a "deaf" op returns.
var deafEnded atomic.Bool

// testRegistry holds the default ops and testOps.
var testRegistry = sync.OnceValue(func() *kernels.Registry {
	reg := kernels.NewRegistry()
	for _, op := range kernels.Default().Ops() {
		reg.Register(op)
	}
	for name, run := range testOps {
		reg.Register(newTestOp(name, run))
	}
	return reg
})

// newTestOp builds an op whose only implementation, "go", is run.
func newTestOp(name string, run func(*cgo.Ctx, kernels.Args) (wire.Result, error)) *kernels.Op {
	return &kernels.Op{Name: name, Doc: "test only", Impls: []string{kernels.ImplGo},
		Params: []kernels.Param{{Name: "ms", Kind: kernels.KindInt, Default: int64(100), Doc: "how long deaf sleeps"}},
		Bind: func(args kernels.Args) (*kernels.Call, error) {
			return kernels.NewCall(nil, 1, 1, map[string]kernels.RunFunc{
				kernels.ImplGo: func(x *cgo.Ctx, _ kernels.Out) (wire.Result, error) { return run(x, args) },
			}), nil
		}}
}

// testJob prepares a job for op (from testRegistry) with args.
func testJob(t testing.TB, op string, args wire.Args, impl string) *Job {
	t.Helper()
	o, err := testRegistry().Lookup(op)
	if err != nil {
		t.Fatal(err)
	}
	call, err := o.Prepare(args)
	if err != nil {
		t.Fatal(err)
	}
	return &Job{Call: call, Impl: impl, Args: args}
}

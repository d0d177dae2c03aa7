package server_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/shm"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// resultCases are calls of every op with a result tensor, most of them
// large enough (256 KiB or more) for pooled result memory.
func resultCases() []*wire.Request {
	r := rand.New(rand.NewPCG(11, 12))
	real := tensor.FromFloat64([]int{4096}, make([]float64, 4096))
	cplx, _ := tensor.New(tensor.C128, 2, 8192)
	for i := range real.Float64() {
		real.Float64()[i] = r.NormFloat64()
	}
	for i := range cplx.Complex128() {
		cplx.Complex128()[i] = complex(r.NormFloat64(), r.NormFloat64())
	}
	a := randMatrix(r, tensor.F64, 100, 100)
	for i := range 100 {
		a.Float64()[i*100+i] += 10 // well conditioned
	}
	sortX := randMatrix(r, tensor.F64, 1, 40000)
	sortX.Shape = []int{40000}
	tv := wire.TensorValue
	return []*wire.Request{
		{Op: "gemm", Args: wire.Args{"a": tv(randMatrix(r, tensor.F64, 200, 150)), "b": tv(randMatrix(r, tensor.F64, 150, 180))}},
		{Op: "gemm", Args: wire.Args{"a": tv(randMatrix(r, tensor.F32, 60, 40)), "b": tv(randMatrix(r, tensor.F32, 40, 50)),
			"c": tv(randMatrix(r, tensor.F32, 60, 50)), "beta": wire.Float(2)}},
		{Op: "fft", Args: wire.Args{"x": tv(real)}},
		{Op: "fft", Args: wire.Args{"x": tv(cplx), "inverse": wire.Bool(true)}},
		{Op: "conv2d", Args: wire.Args{"image": tv(randMatrix(r, tensor.F64, 300, 200)), "kernel": tv(randMatrix(r, tensor.F64, 5, 5))}},
		{Op: "mandelbrot", Args: wire.Args{"width": wire.Int(300), "height": wire.Int(250), "x_min": wire.Float(-2),
			"x_max": wire.Float(1), "y_min": wire.Float(-1), "y_max": wire.Float(1), "max_iter": wire.Int(50)}},
		{Op: "solve", Args: wire.Args{"a": tv(a), "b": tv(randMatrix(r, tensor.F64, 100, 3))}},
		{Op: "sort", Args: wire.Args{"x": tv(sortX)}},
	}
}

// Every op's result is right in the shm_out window on every executor and
// for every implementation: written there by the kernel itself where it
// may be (or copied there, for sort's Go implementation), into memory that held garbage, with
// nothing written outside the result's own bytes.
func TestShmOutEveryOpAndExecutor(t *testing.T) {
	ts, path := startUnix(t, nil)
	tcp := ts.dial(t)
	conn, uc := rawUnix(t, path)
	const size = 2 << 20
	fd, mem := sealedMemfd(t, size, shm.RequiredSeals)
	region := regionOf(t, register(t, conn, uc, 1, fd))
	id := int64(10)
	for _, req := range resultCases() {
		for _, ex := range execNames {
			for _, impl := range []string{"c", otherImpl(req.Op)} {
				want, err := tcp.Do(context.Background(), &wire.Request{Op: req.Op, Args: req.Args},
					&client.Options{Exec: ex, Impl: impl})
				if err != nil {
					t.Fatalf("%s %s/%s over TCP: %v", req.Op, ex, impl, err)
				}
				var name string
				for k := range want.Result {
					name = k
				}
				w := want.Result[name].Tensor
				for _, off := range []int64{0, 100} {
					what := fmt.Sprintf("%s %s/%s, window at %d", req.Op, ex, impl, off)
					for i := range mem {
						mem[i] = 0xff
					}
					id++
					send := &wire.Request{ID: id, Op: req.Op, Args: req.Args, Exec: ex, Impl: impl,
						ShmOut: &wire.ShmWindow{Region: region, Offset: off, Length: size - off}}
					msg, err := wire.EncodeRequest(send, true)
					if err != nil {
						t.Fatal(err)
					}
					if err := conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
						t.Fatal(err)
					}
					rep := readReply(t, conn, regionMem{region: mem})
					if !rep.OK {
						t.Fatalf("%s: %v", what, rep.Error)
					}
					got := rep.Result[name]
					at := (off + 63) / 64 * 64
					if got.Shm == nil || got.Shm.Region != region || got.Shm.Offset != at {
						t.Fatalf("%s: result at %+v, want region %d offset %d", what, got.Shm, region, at)
					}
					if !got.Tensor.Equal(w) {
						t.Errorf("%s: differs from the answer over TCP", what)
					}
					end := at + int64(len(w.Data))
					if !allOnes(mem[:at]) || !allOnes(mem[end:]) {
						t.Errorf("%s: bytes outside the result [%d, %d) were written", what, at, end)
					}
				}
			}
		}
	}
}

// otherImpl is op's implementation other than C.
func otherImpl(op string) string {
	switch op {
	case "gemm", "fft", "solve":
		return "gonum"
	}
	return "go"
}

func allOnes(b []byte) bool {
	for _, x := range b {
		if x != 0xff {
			return false
		}
	}
	return true
}

// slowStopOp is a test-only op whose kernel writes its result, a counter
// in every byte, over and over, and goes on for 200 ms after it is
// cancelled: a kernel slow to stop.
var slowStopOp = testOp("test_slowstop", "test only: writes its result until 200 ms after a cancel", 4096,
	func(x *cgo.Ctx, out kernels.Out) (wire.Result, error) {
		y, err := out.Tensor("y", tensor.U8, kernels.Exposed, 4096)
		if err != nil {
			return nil, err
		}
		var stop time.Time
		for i := 0; stop.IsZero() || time.Since(stop) < 200*time.Millisecond; i++ {
			if stop.IsZero() && x.Canceled() {
				stop = time.Now()
			}
			for j := range y.Data {
				y.Data[j] = byte(i)
			}
			time.Sleep(time.Millisecond)
		}
		return nil, cgo.ErrCanceled
	})

// A request that ends before its kernel (a deadline here) is answered
// only once its kernel has stopped writing into the window: after the
// reply, the window stays as it is.
func TestShmOutStillAfterReply(t *testing.T) {
	_, path := startUnix(t, nil)
	conn, uc := rawUnix(t, path)
	fd, mem := sealedMemfd(t, 1<<16, shm.RequiredSeals)
	region := regionOf(t, register(t, conn, uc, 1, fd))
	for i, ex := range []string{"direct", "pool"} {
		msg := fmt.Sprintf(`{"id":%d,"op":"test_slowstop","exec":%q,"timeout_ms":50,"shm_out":[%d,0,4096]}`, i+2, ex, region)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		rep := readReply(t, conn)
		if rep.OK || rep.Error.Code != wire.DeadlineExceeded {
			t.Fatalf("%s: %+v, want deadline_exceeded", ex, rep)
		}
		before := bytes.Clone(mem[:4096])
		time.Sleep(100 * time.Millisecond)
		if !bytes.Equal(before, mem[:4096]) {
			t.Errorf("%s: the window changed after the reply", ex)
		}
	}
}

// Pooled result memory goes back once its reply is written, whatever the
// client does: reads it, cancels, closes mid-reply or before it.
func TestResultMemoryComesBack(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	ctx := context.Background()
	view := client.MandelbrotView{Width: 2048, Height: 1024, XMin: -2, XMax: 1, YMin: -1, YMax: 1, MaxIter: 1} // 8 MiB
	for range 3 {
		for _, ex := range execNames {
			if _, _, err := c.Mandelbrot(ctx, view, &client.Options{Exec: ex}); err != nil {
				t.Fatalf("%s: %v", ex, err)
			}
		}
	}
	// Cancelled: by a deadline the client sets, mid-kernel.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	slow := client.MandelbrotView{Width: 2048, Height: 1024, XMin: -0.75, XMax: -0.74, YMin: 0.1, YMax: 0.11, MaxIter: 100000}
	if _, _, err := c.Mandelbrot(short, slow, &client.Options{Exec: "pool", Impl: "go"}); err == nil {
		t.Fatal("a call of seconds finished within 20 ms")
	}
	cancel()
	// Gone: before the reply, and in the middle of it.
	msg := fmt.Sprintf(`{"id":1,"op":"mandelbrot","reply":"binary","args":{"width":%d,"height":%d,"x_min":-2,"x_max":1,"y_min":-1,"y_max":1,"max_iter":1}}`,
		view.Width, view.Height)
	for _, readSome := range []bool{false, true} {
		raw := ts.raw(t)
		if err := raw.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if readSome {
			_, r, err := raw.NextReader()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Read(make([]byte, 100<<10)); err != nil {
				t.Fatal(err)
			}
		}
		raw.UnderlyingConn().Close()
	}
	ts.waitMetric(t, "pooled result memory to come back", "crunch_message_buffer_in_use_bytes", "0")
}

// A window that overlaps the request's arguments still gets the right
// result: it is computed elsewhere and copied in after the kernel, which
// would otherwise read what it wrote.
func TestShmOutOverArguments(t *testing.T) {
	ts, path := startUnix(t, nil)
	tcp := ts.dial(t)
	conn, uc := rawUnix(t, path)
	fd, mem := sealedMemfd(t, 1<<20, shm.RequiredSeals)
	region := regionOf(t, register(t, conn, uc, 1, fd))
	r := rand.New(rand.NewPCG(3, 4))
	a, b := randMatrix(r, tensor.F64, 128, 128), randMatrix(r, tensor.F64, 128, 128)
	want, _, err := tcp.Gemm(context.Background(), a, b, &client.Options{Impl: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for i, ex := range []string{"direct", "pool"} {
		copy(mem, a.Data) // a at offset 0, the window over it
		msg := fmt.Sprintf(`{"id":%d,"op":"gemm","exec":%q,"impl":"c","args":{"a":{"dtype":"f64","shape":[128,128],"shm":[%d,0]},`+
			`"b":{"dtype":"f64","shape":[128,128],"shm":[%d,%d]}},"shm_out":[%d,0,%d]}`,
			i+2, ex, region, region, len(a.Data), region, len(a.Data))
		copy(mem[len(a.Data):], b.Data)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		rep := readReply(t, conn, regionMem{region: mem})
		if !rep.OK {
			t.Fatalf("%s: %v", ex, rep.Error)
		}
		if got := rep.Result["c"]; got.Shm == nil || got.Shm.Offset != 0 || !got.Tensor.Equal(want) {
			t.Errorf("%s: result at %+v, equal to TCP's: %v", ex, got.Shm, got.Tensor.Equal(want))
		}
	}
}

// Options.Out receives the result: over TCP, over the Unix socket through
// the client's own window, and from AllocShared, where the server's
// kernel writes it in place; an Out of another shape is left alone.
func TestClientOut(t *testing.T) {
	ts, path := startUnix(t, nil)
	tcp, ux := ts.dial(t), dialUnix(t, path)
	ctx := context.Background()
	view := client.MandelbrotView{Width: 512, Height: 300, XMin: -2, XMax: 1, YMin: -1, YMax: 1, MaxIter: 40}
	want, _, err := tcp.Mandelbrot(ctx, view, nil)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := ux.AllocShared(ctx, tensor.U32, 300, 512)
	if err != nil {
		t.Fatal(err)
	}
	defer ux.FreeShared(shared)
	plain, _ := tensor.New(tensor.U32, 300, 512)
	other, _ := tensor.New(tensor.U32, 512, 300)
	for _, tc := range []struct {
		name string
		c    *client.Client
		out  *tensor.Tensor
		same bool // the call returns out itself
	}{
		{"tcp", tcp, plain, true},
		{"unix", ux, plain, true},
		{"unix, AllocShared", ux, shared, true},
		{"tcp, another shape", tcp, other, false},
		{"unix, another shape", ux, other, false},
	} {
		for _, ex := range execNames {
			for i := range tc.out.Data {
				tc.out.Data[i] = 0xff
			}
			got, _, err := tc.c.Mandelbrot(ctx, view, &client.Options{Exec: ex, Out: tc.out})
			if err != nil {
				t.Fatalf("%s %s: %v", tc.name, ex, err)
			}
			if (got == tc.out) != tc.same {
				t.Errorf("%s %s: returned Out: %v, want %v", tc.name, ex, got == tc.out, tc.same)
			}
			if !got.Equal(want) {
				t.Errorf("%s %s: wrong counts", tc.name, ex)
			}
			if !tc.same && !allOnes(tc.out.Data) {
				t.Errorf("%s %s: an Out of another shape was written", tc.name, ex)
			}
		}
	}
}

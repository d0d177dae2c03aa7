package executor

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// testArena returns a fresh arena, closed when the test ends.
func testArena(t testing.TB) *arena {
	t.Helper()
	a, err := newArena(0, PriorityNormal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return a
}

// inArena reports whether b lies in a's mapping.
func inArena(a *arena, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&a.mem[0]))
	return p >= lo && p < lo+uintptr(len(a.mem))
}

// testArgs holds a value of every kind the arena carries.
func testArgs(t testing.TB) wire.Args {
	args := wire.Args{
		"n":     wire.Int(-7),
		"x":     wire.Float(0.1),
		"s":     wire.String("héllo"),
		"flag":  wire.Bool(true),
		"none":  wire.Null(),
		"zero":  {}, // the zero Value: null
		"empty": wire.TensorValue(tensor.FromFloat64([]int{0, 3}, nil)),
		"inf":   wire.Float(1 / zero()), // a shape [] f64 tensor
	}
	for i, dt := range tensor.DTypes() {
		x, err := tensor.New(dt, 3, i+1)
		if err != nil {
			t.Fatal(err)
		}
		for j := range x.Data {
			x.Data[j] = byte(j*7 + i)
		}
		args[dt.String()] = wire.TensorValue(x)
	}
	return args
}

func zero() float64 { return 0 }

func TestShmJobRoundTrip(t *testing.T) {
	a := testArena(t)
	args := testArgs(t)
	op := &kernels.Op{Name: "anything"}
	job := &Job{Call: kernels.NewCall(op, 1, 1, nil), Impl: "c", Args: args, Progress: func(float64) {}}
	var m shmMsg
	if err := m.job(42, job, 3); err != nil {
		t.Fatal(err)
	}
	hdr := uint64(len(m.hdr))
	end, err := m.place(a, arenaCtlSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, copyOut := range []bool{false, true} {
		r := newShmReader(a, arenaCtlSize, hdr, copyOut)
		id, name, impl, progress, threads, got, err := r.job()
		if err != nil {
			t.Fatal(err)
		}
		if id != 42 || name != "anything" || impl != "c" || !progress || threads != 3 || r.end != end {
			t.Errorf("copy %v: id %d op %q impl %q progress %v threads %d end %d, want 42 anything c true 3 %d", copyOut, id, name, impl, progress, threads, r.end, end)
		}
		if len(got) != len(args) {
			t.Errorf("copy %v: %d values, want %d", copyOut, len(got), len(args))
		}
		for k, v := range args {
			if w := got[k]; !w.Equal(v) && !(v.IsNull() && w.IsNull()) {
				t.Errorf("copy %v: %s = %+v, want %+v", copyOut, k, w, v)
			}
			if tt := got[k].Tensor; tt != nil && len(tt.Data) > 0 {
				// The worker reads its arguments in place; the server
				// copies results out, in memory aligned for any dtype.
				if inArena(a, tt.Data) == copyOut {
					t.Errorf("copy %v: tensor %s in the arena: %v", copyOut, k, inArena(a, tt.Data))
				}
				if err := tt.Validate(); err != nil || uintptr(unsafe.Pointer(&tt.Data[0]))%msgAlign != 0 {
					t.Errorf("copy %v: tensor %s: %v, address %p", copyOut, k, err, &tt.Data[0])
				}
			}
		}
	}
}

func TestShmResultRoundTrip(t *testing.T) {
	a := testArena(t)
	var m shmMsg
	c := tensor.FromFloat64([]int{2}, []float64{1, 2})
	for _, tc := range []struct {
		res  wire.Result
		fail *wire.Error
	}{
		{res: wire.Result{"c": wire.TensorValue(c), "total": wire.Int(5)}},
		{res: wire.Result{}},
		{fail: &wire.Error{Code: wire.Overloaded, Message: "busy", RetryAfterMS: 12}},
		{fail: wire.Errorf(wire.Numerical, "singular matrix")},
	} {
		if err := m.result(9, tc.res, tc.fail); err != nil {
			t.Fatal(err)
		}
		hdr := uint64(len(m.hdr))
		off := arenaCtlSize + 4096
		if _, err := m.place(a, off); err != nil {
			t.Fatal(err)
		}
		rep, err := newShmReader(a, uint64(off), hdr, true).result()
		if err != nil {
			t.Fatal(err)
		}
		want := &wire.Reply{ID: 9, OK: tc.fail == nil, Result: tc.res, Error: tc.fail}
		if tc.fail != nil {
			if rep.ID != 9 || rep.OK || *rep.Error != *tc.fail {
				t.Errorf("got %+v (%+v), want %+v", rep, rep.Error, want)
			}
			continue
		}
		if rep.ID != 9 || !rep.OK || len(rep.Result) != len(tc.res) {
			t.Errorf("got %+v, want %+v", rep, want)
		}
		for k, v := range tc.res {
			if !rep.Result[k].Equal(v) {
				t.Errorf("%s = %+v, want %+v", k, rep.Result[k], v)
			}
		}
	}
}

// A corrupt message is an error, never a crash: the server reads what a
// worker wrote, and a worker may be broken.
func TestShmReaderRejects(t *testing.T) {
	a := testArena(t)
	var m shmMsg
	x := tensor.FromFloat64([]int{4}, []float64{1, 2, 3, 4})
	if err := m.result(3, wire.Result{"x": wire.TensorValue(x)}, nil); err != nil {
		t.Fatal(err)
	}
	good := slices.Clone(m.hdr)
	place := func(hdr []byte) uint64 {
		m.hdr = hdr
		if _, err := m.place(a, arenaCtlSize); err != nil {
			t.Fatal(err)
		}
		return uint64(len(hdr))
	}
	// The header's layout: id 0..8, status 8, dataLen 9..17, count 17..19,
	// name 19..24, kind 24, dtype 25, ndim 26, dim 27..35, rel 35..43, nbytes 43..51.
	patch := func(at int, v uint64) []byte {
		h := slices.Clone(good)
		binary.LittleEndian.PutUint64(h[at:], v)
		return h
	}
	for name, hdr := range map[string][]byte{
		"bad status":        append(slices.Clone(good[:8]), 7),
		"data beyond file":  patch(9, 1<<40),
		"dtype":             append(append(slices.Clone(good[:25]), 99), good[26:]...),
		"size mismatch":     patch(27, 5),
		"tensor after data": patch(35, 64),
		"misaligned tensor": patch(35, 8),
		"huge dimension":    patch(27, 1<<63),
	} {
		n := place(hdr)
		if _, err := newShmReader(a, arenaCtlSize, n, true).result(); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	n := place(good)
	for cut := range good {
		if _, err := newShmReader(a, arenaCtlSize, uint64(cut), true).result(); err == nil {
			t.Errorf("header cut at %d bytes: decoded", cut)
		}
	}
	for name, off := range map[string]uint64{"control page": 0, "misaligned": arenaCtlSize + 8, "beyond the file": uint64(a.size), "beyond the mapping": 1 << 62} {
		if _, err := newShmReader(a, off, n, true).result(); err == nil {
			t.Errorf("header at %s: decoded", name)
		}
	}
	// Random damage to a good header, byte by byte.
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		h := slices.Clone(good)
		h[r.IntN(len(h))] = byte(r.Uint32())
		newShmReader(a, arenaCtlSize, place(h), true).result()
	}
}

func FuzzShmReader(f *testing.F) {
	var m shmMsg
	m.result(1, wire.Result{"x": wire.TensorValue(tensor.FromFloat64([]int{2, 2}, []float64{1, 2, 3, 4})), "n": wire.Int(3)}, nil)
	f.Add(slices.Clone(m.hdr))
	m.result(1, nil, wire.Errorf(wire.Internal, "boom"))
	f.Add(slices.Clone(m.hdr))
	a := testArena(f)
	f.Fuzz(func(t *testing.T, hdr []byte) {
		copy(a.mem[arenaCtlSize:], hdr[:min(len(hdr), a.size-arenaCtlSize)])
		newShmReader(a, arenaCtlSize, uint64(len(hdr)), true).result()
		newShmReader(a, arenaCtlSize, uint64(len(hdr)), false).job()
	})
}

// allocated returns the memory the arena's file takes.
func allocated(t *testing.T, a *arena) int64 {
	var st unix.Stat_t
	if err := unix.Fstat(a.fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

func TestArenaGrowsAndGivesBack(t *testing.T) {
	a := testArena(t)
	big, _ := tensor.New(tensor.U8, 72<<20) // beyond arenaKeep
	for i := range big.Data {
		big.Data[i] = byte(i | 1)
	}
	var m shmMsg
	if err := m.result(1, wire.Result{"big": wire.TensorValue(big)}, nil); err != nil {
		t.Fatal(err)
	}
	hdr := uint64(len(m.hdr))
	if _, err := m.place(a, arenaCtlSize); err != nil {
		t.Fatal(err)
	}
	if a.size < 72<<20 || allocated(t, a) < 72<<20 {
		t.Fatalf("arena of %d bytes, %d allocated, after placing 72 MiB", a.size, allocated(t, a))
	}
	rep, err := newShmReader(a, arenaCtlSize, hdr, true).result()
	if err != nil || !rep.Result["big"].Tensor.Equal(big) {
		t.Fatalf("read back: %v", err)
	}
	a.release()
	if got := allocated(t, a); got > arenaKeep+arenaInitial {
		t.Errorf("%d bytes allocated after release, want at most %d", got, arenaKeep+arenaInitial)
	}
	// The result copied out before the release is intact; the arena still
	// works at its size.
	if !rep.Result["big"].Tensor.Equal(big) {
		t.Error("the copied-out result changed")
	}
	if _, err := m.place(a, arenaCtlSize); err != nil {
		t.Fatal(err)
	}
	if rep, err := newShmReader(a, arenaCtlSize, hdr, false).result(); err != nil || !rep.Result["big"].Tensor.Equal(big) {
		t.Fatalf("read back after release: %v", err)
	}
	if _, err := m.place(a, arenaReserve-50<<20); err == nil {
		t.Error("a message beyond the reservation was placed")
	}
}

// A worker cannot shrink its arena under the server: reading a page beyond
// the file's end would kill the server with SIGBUS.
func TestArenaCannotShrink(t *testing.T) {
	a := testArena(t)
	if err := unix.Ftruncate(a.fd, arenaCtlSize); !errors.Is(err, unix.EPERM) {
		t.Errorf("shrinking the arena: %v, want EPERM", err)
	}
	fd, err := unix.Dup(a.fd) // as the worker gets it, a descriptor of its own
	if err != nil {
		t.Fatal(err)
	}
	w, err := openArena(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	// Both mappings see one memory; growing on one side shows on the other.
	if err := w.grow(8 << 20); err != nil {
		t.Fatal(err)
	}
	w.mem[8<<20-1] = 7
	if !a.backed(8<<20) || a.mem[8<<20-1] != 7 {
		t.Error("the server does not see what the worker wrote")
	}
}

func TestArenaSettings(t *testing.T) {
	for _, p := range []Priority{PriorityNormal, PriorityLow, PriorityIdle} {
		a, err := newArena(1234, p)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := a.priority(); got != p || err != nil || a.spin() != 1234 {
			t.Errorf("priority %q, spin %v (%v): want %q, 1.234µs", got, a.spin(), err, p)
		}
		a.close()
	}
	if _, err := newArena(0, "urgent"); err == nil {
		t.Error("an unknown priority was accepted")
	}
}

// BenchmarkArenaResult compares the two ways an 8 MiB result can reach its
// caller. copy: the worker writes it into the arena's pages, warm from
// earlier jobs, and the server copies it out into its own heap (what the
// executor does). handover: every result gets fresh shared pages that the
// caller would keep, so the worker's writes fault them in and the server
// maps them anew. (Handing shared pages to a caller is also unsafe in Go:
// nothing would know when the last slice of them is gone, to unmap them.)
func BenchmarkArenaResult(b *testing.B) {
	const n = 8 << 20
	src := tensor.AlignedBytes(n) // the worker's result in its heap
	for i := range src {
		src[i] = byte(i)
	}
	b.Run("copy", func(b *testing.B) {
		a := testArena(b)
		if err := a.grow(arenaCtlSize + n); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
		for b.Loop() {
			copy(a.mem[arenaCtlSize:], src)                              // worker
			_ = tensor.AlignedCopy(a.mem[arenaCtlSize : arenaCtlSize+n]) // server
		}
	})
	b.Run("handover", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			fd, err := unix.MemfdCreate("result", unix.MFD_CLOEXEC)
			if err != nil {
				b.Fatal(err)
			}
			unix.Ftruncate(fd, n)
			wmem, err1 := unix.Mmap(fd, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			smem, err2 := unix.Mmap(fd, 0, n, unix.PROT_READ, unix.MAP_SHARED)
			if err1 != nil || err2 != nil {
				b.Fatal(err1, err2)
			}
			copy(wmem, src) // worker
			var sum byte
			for i := 0; i < n; i += 4096 { // the caller touches its result
				sum += smem[i]
			}
			unix.Munmap(wmem)
			unix.Munmap(smem)
			unix.Close(fd)
		}
	})
}

// A subprocess slot keeps the pages beyond arenaKeep that a job used for
// the next job (faulting them in again for each of a series of large jobs
// cost a third of a gemm of 2048), and gives them back once idle for
// arenaIdleRelease.
func TestSlotKeepsArenaPagesUntilIdle(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 1})
	x, _ := tensor.New(tensor.F64, 10<<20) // 80 MiB: beyond arenaKeep
	for i := range x.Float64() {
		x.Float64()[i] = float64(i % 1000)
	}
	a := s.slots[0].p.arena
	for range 2 {
		if _, err := s.Run(context.Background(), testJob(t, "stats", wire.Args{"x": wire.TensorValue(x)}, kernels.ImplC)); err != nil {
			t.Fatal(err)
		}
		if got := allocated(t, a); got < 80<<20 {
			t.Fatalf("%d bytes allocated in the arena right after a job of 80 MiB: its pages were given back at once", got)
		}
	}
	testutil.WaitFor(t, 10*arenaIdleRelease, "the idle slot's arena back to arenaKeep", func() bool {
		return allocated(t, a) <= arenaKeep+arenaInitial
	})
}

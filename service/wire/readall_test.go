package wire_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"slices"
	"testing"
	"testing/iotest"
	"time"
	"unsafe"

	"github.com/crunchsvc/crunch/service/msgbuf"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestReadAll: every size around the chunk boundaries comes back whole,
// exactly sized and aligned, whatever the reader's pieces; an error is
// returned as is.
func TestReadAll(t *testing.T) {
	const chunk = 256 << 10
	for _, n := range []int{0, 1, 63, 64, 65, 1000, chunk - 1, chunk, chunk + 1, 3*chunk + 17, 8 << 20} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i*7 + i>>11)
		}
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(want),
			"one byte": iotest.OneByteReader(bytes.NewReader(want)),
			"halves":   iotest.HalfReader(bytes.NewReader(want)),
		} {
			if name == "one byte" && n > chunk+1 {
				continue // slow, and covered by halves
			}
			got, err := wire.ReadAll(r)
			if err != nil {
				t.Fatalf("n=%d %s: %v", n, name, err)
			}
			if !bytes.Equal(got, want) || len(got) != n || cap(got) != n {
				t.Fatalf("n=%d %s: got %d bytes (cap %d), equal %v", n, name, len(got), cap(got), bytes.Equal(got, want))
			}
			if n > 0 && uintptr(unsafe.Pointer(&got[0]))%64 != 0 {
				t.Fatalf("n=%d %s: not 64-byte aligned", n, name)
			}
		}
	}
	boom := errors.New("boom")
	for _, n := range []int{chunk + 5, chunk, 2 * chunk} { // within a chunk, and where the next would start
		if got, err := wire.ReadAll(io.MultiReader(bytes.NewReader(make([]byte, n)), iotest.ErrReader(boom))); !errors.Is(err, boom) || got != nil {
			t.Errorf("reader failing after %d bytes: %v, %d bytes", n, err, len(got))
		}
	}
}

// BenchmarkReadAll: io.ReadAll against ReadAll on an 8 MiB message read in
// 64 KiB pieces (as a WebSocket connection's buffered reader hands it out).
func BenchmarkReadAll(b *testing.B) {
	msg := make([]byte, 8<<20)
	for name, read := range map[string]func(io.Reader) ([]byte, error){"io.ReadAll": io.ReadAll, "wire.ReadAll": wire.ReadAll} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := read(&pieces{msg, 64 << 10}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// pieces reads b at most n bytes at a time.
type pieces struct {
	b []byte
	n int
}

func (p *pieces) Read(dst []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	k := copy(dst[:min(len(dst), p.n)], p.b)
	p.b = p.b[k:]
	return k, nil
}

// TestReadAllDeclared: binary messages, read straight into a buffer of the
// size their header declares, come back whole; so do messages longer or
// shorter than they declare, and with a pool, in memory outside the heap.
func TestReadAllDeclared(t *testing.T) {
	pool := msgbuf.New(64<<20, time.Second)
	for _, n := range []int{0, 1, 40000, 300000, 1 << 20} {
		x := tensor.FromFloat64([]int{n}, make([]float64, n))
		for i := range x.Float64() {
			x.Float64()[i] = float64(i)
		}
		msg, err := wire.EncodeRequest(&wire.Request{ID: 1, Op: "sort", Args: wire.Args{"x": wire.TensorValue(x)}}, true)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string][]byte{
			"as declared": msg,
			"longer":      append(slices.Clip(msg), bytes.Repeat([]byte{7}, 300001)...),
			"shorter":     msg[:len(msg)*2/3],
		} {
			for _, limit := range []int{math.MaxInt, len(msg) / 2} {
				got, buf, err := wire.ReadAllPooled(iotest.HalfReader(bytes.NewReader(want)), pool, limit)
				if err != nil {
					t.Fatalf("n=%d %s: %v", n, name, err)
				}
				if !bytes.Equal(got, want) || uintptr(unsafe.Pointer(unsafe.SliceData(got)))%64 != 0 {
					t.Fatalf("n=%d %s limit %d: got %d bytes, want %d (equal %v)", n, name, limit, len(got), len(want), bytes.Equal(got, want))
				}
				buf.Release()
			}
			got, err := wire.ReadAll(iotest.HalfReader(bytes.NewReader(want)))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("n=%d %s: ReadAll: %v", n, name, err)
			}
		}
	}
	if pool.Mapped() != pool.Idle() {
		t.Errorf("buffers still in use after every release: %d mapped, %d idle", pool.Mapped(), pool.Idle())
	}
}

package wire_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"unsafe"

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
	if got, err := wire.ReadAll(io.MultiReader(bytes.NewReader(make([]byte, chunk+5)), iotest.ErrReader(boom))); !errors.Is(err, boom) || got != nil {
		t.Errorf("failing reader: %v, %d bytes", err, len(got))
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

package msgbuf

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/crunchsvc/crunch/internal/testutil"
)

// Buffers come in powers of two, are reused while idle, are unmapped
// beyond KeepBytes at once and after KeepFor idle.
func TestPoolReusesAndReturns(t *testing.T) {
	p := New(3*MinSize, 50*time.Millisecond)
	a, err := p.Get(MinSize + 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size() != 2*MinSize || len(a.Bytes(MinSize+1)) != MinSize+1 {
		t.Fatalf("size %d", a.Size())
	}
	a.Bytes(10)[9] = 1 // mapped and writable
	b, _ := p.Get(1)
	if b.Size() != MinSize {
		t.Fatalf("smallest buffer %d bytes", b.Size())
	}
	c, _ := p.Get(MinSize)
	if p.Mapped() != 4*MinSize {
		t.Fatalf("mapped %d", p.Mapped())
	}
	a.Release()
	b.Release()
	c.Release() // beyond KeepBytes: unmapped at once
	if p.Idle() != 3*MinSize || p.Mapped() != 3*MinSize {
		t.Fatalf("idle %d, mapped %d; want 3 MinSize each", p.Idle(), p.Mapped())
	}
	again, _ := p.Get(2 * MinSize)
	if again != a || again.Bytes(10)[9] != 1 {
		t.Error("an idle buffer of the right size was not reused")
	}
	again.Release()
	var nilBuf *Buf
	nilBuf.Release()
	if !testutil.Poll(5*time.Second, func() bool { return p.Mapped() == 0 }) {
		t.Fatalf("idle buffers still mapped after 5 s: %d bytes", p.Mapped())
	}
	if p.Idle() != 0 {
		t.Errorf("idle %d after the sweep", p.Idle())
	}
}

// A buffer of HugeSize or more starts on a huge page boundary, is usable
// to its last byte and is unmapped whole.
func TestLargeBuffersAreHugePageAligned(t *testing.T) {
	p := New(0, time.Second) // keeps nothing: every Release unmaps
	for _, n := range []int{HugeSize - 1, HugeSize, 3 * HugeSize} {
		b, err := p.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		mem := b.Bytes(n)
		start := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
		if huge := b.Size() >= HugeSize; huge && start%hugePage != 0 {
			t.Errorf("%d bytes: starts at %#x, not on a 2 MiB boundary", n, start)
		}
		for i := 0; i < n; i += 4096 {
			mem[i] = byte(i)
		}
		mem[n-1] = 7
		if p.Mapped() != int64(b.Size()) {
			t.Errorf("%d bytes: mapped %d, want %d", n, p.Mapped(), b.Size())
		}
		b.Release()
		if p.Mapped() != 0 {
			t.Errorf("%d bytes: %d still mapped after Release", n, p.Mapped())
		}
	}
}

// BenchmarkFreshBuffer writes every page of a buffer just mapped: the
// page faults a reply into new memory costs (with huge pages from
// HugeSize on).
func BenchmarkFreshBuffer(b *testing.B) {
	for _, size := range []int{2 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("MiB=%d", size>>20), func(b *testing.B) {
			p := New(0, time.Second)
			b.SetBytes(int64(size))
			for range b.N {
				buf, err := p.Get(size)
				if err != nil {
					b.Fatal(err)
				}
				mem := buf.Bytes(size)
				for i := 0; i < size; i += 4096 {
					mem[i] = 1
				}
				buf.Release()
			}
		})
	}
}

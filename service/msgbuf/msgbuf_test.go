package msgbuf

import (
	"testing"
	"time"

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

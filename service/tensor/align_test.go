package tensor

import (
	"bytes"
	"testing"
	"unsafe"
)

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

func TestAlignedBytes(t *testing.T) {
	for _, n := range []int{0, 1, 7, 63, 64, 65, 1000, 1 << 20} {
		b := AlignedBytes(n)
		if len(b) != n || cap(b) != n {
			t.Errorf("AlignedBytes(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n > 0 && addr(b)%Alignment != 0 {
			t.Errorf("AlignedBytes(%d) is at %#x", n, addr(b))
		}
		for _, c := range b {
			if c != 0 {
				t.Fatalf("AlignedBytes(%d) not zeroed", n)
			}
		}
	}
	mustPanic(t, "AlignedBytes(-1)", func() { AlignedBytes(-1) })
}

func TestAligned(t *testing.T) {
	base := AlignedBytes(256)
	for i := range base {
		base[i] = byte(i)
	}
	if got := Aligned(base[8:40], 8); addr(got) != addr(base[8:]) {
		t.Error("Aligned copied an aligned slice")
	}
	for _, align := range []int{2, 4, 8, 16, 64, 128} {
		got := Aligned(base[1:33], align)
		if addr(got)%uintptr(align) != 0 || !bytes.Equal(got, base[1:33]) {
			t.Errorf("Aligned(b, %d) = %x at %#x", align, got, addr(got))
		}
	}
	if got := Aligned(base[3:3], 8); len(got) != 0 {
		t.Error("Aligned of an empty slice")
	}
	if got := Aligned(base[3:9], 1); addr(got) != addr(base[3:]) {
		t.Error("Aligned(b, 1) copied")
	}
}

func TestAlignedCopy(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64<<10 - 1, 64 << 10, 1<<20 + 3} {
		src := make([]byte, n+1)[1:] // misaligned
		for i := range src {
			src[i] = byte(i*7 + 1)
		}
		got := AlignedCopy(src)
		if !bytes.Equal(got, src) || len(got) != n || cap(got) != n {
			t.Errorf("AlignedCopy of %d bytes: len %d cap %d, equal %v", n, len(got), cap(got), bytes.Equal(got, src))
		}
		if n > 0 && (addr(got)%Alignment != 0 || addr(got) == addr(src)) {
			t.Errorf("AlignedCopy of %d bytes is at %#x (source at %#x)", n, addr(got), addr(src))
		}
	}
}

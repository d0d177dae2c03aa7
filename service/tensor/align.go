package tensor

import "unsafe"

// Alignment is the alignment in bytes of the memory this package allocates.
const Alignment = 64

// AlignedBytes returns a new zeroed []byte of length n whose first byte is
// 64-byte aligned. It panics if n is negative.
func AlignedBytes(n int) []byte {
	return alignedBytes(n, Alignment)
}

// Aligned returns b itself if its first byte is align-aligned (or b is empty),
// else a copy of b in new 64-byte (or align, if larger) aligned memory.
func Aligned(b []byte, align int) []byte {
	if len(b) == 0 || isAligned(b, align) {
		return b
	}
	c := alignedBytes(len(b), max(align, Alignment))
	copy(c, b)
	return c
}

// alignedBytes returns a new zeroed []byte of length n starting at a multiple
// of align; its capacity is n, so appending to it never writes past it.
func alignedBytes(n, align int) []byte {
	if n < 0 {
		panic("tensor: negative length")
	}
	if n == 0 {
		return []byte{}
	}
	if align <= 1 {
		return make([]byte, n)
	}
	buf := make([]byte, n+align-1)
	off := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % uintptr(align)); r != 0 {
		off = align - r
	}
	return buf[off : off+n : off+n]
}

// isAligned reports whether b's first byte is align-aligned; an empty b is.
func isAligned(b []byte, align int) bool {
	if len(b) == 0 || align <= 1 {
		return true
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%uintptr(align) == 0
}

// AlignedCopy returns a copy of b in new 64-byte-aligned memory. A large
// copy is made by append, which unlike make does not zero the memory it is
// about to overwrite (the runtime gives objects that large a span of their
// own, which starts on a page boundary); a small one, or one the runtime
// did not align, is copied into AlignedBytes.
func AlignedCopy(b []byte) []byte {
	if len(b) >= 64<<10 {
		c := append([]byte(nil), b...)
		if isAligned(c, Alignment) {
			return c[:len(b):len(b)]
		}
	}
	c := AlignedBytes(len(b))
	copy(c, b)
	return c
}

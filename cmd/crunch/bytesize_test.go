package main

import "testing"

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "512MiB": 512 << 20, "2GiB": 2 << 30, "2g": 2 << 30,
		"3 M": 3 << 20, "1KB": 1024, "7B": 7, "1TiB": 1 << 40,
	} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, int64(b), err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5G", "G", "12XB", "9999999999T"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, int64(b))
		}
	}
	for n, want := range map[int64]string{0: "0", 1000: "1000", 2048: "2KiB", 3 << 30: "3GiB"} {
		b := byteSize(n)
		if got := b.String(); got != want {
			t.Errorf("String(%d) = %q, want %q", n, got, want)
		}
	}
}

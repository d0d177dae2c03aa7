package cgo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/crunchsvc/crunch/internal/nativesum"
)

// The C this package was built from is the C in the tree: native_sum.go
// holds the digest of the sources it includes from ../native and
// ../include, which Go's build cache does not watch. If it is stale, Go may
// have reused objects built from older C, and every test of this build
// measured that.
func TestNativeSumIsCurrent(t *testing.T) {
	sum, err := nativesum.Sum("..")
	if err != nil {
		t.Fatal(err)
	}
	if sum != nativeSum {
		t.Fatalf("native_sum.go is stale (the C sources changed since it was written), so this "+
			"build may hold objects compiled from older C: run `go generate ./cgo` (make does it "+
			"before every Go command) and test again.\nsources %s\nnative_sum.go %s", sum, nativeSum)
	}
}

// Every source in ../native has its generated wrapper here, and no wrapper
// outlives its source: go generate ./cgo writes them.
func TestNativeWrappersAreCurrent(t *testing.T) {
	want, err := nativesum.Wrappers("..")
	if err != nil {
		t.Fatal(err)
	}
	have, _ := filepath.Glob("native_*.c")
	if len(have) != len(want) {
		t.Errorf("%d wrappers, %d sources in ../native: run go generate ./cgo", len(have), len(want))
	}
	for name, src := range want {
		if b, err := os.ReadFile(name); err != nil || !bytes.Equal(b, src) {
			t.Errorf("%s is missing or stale: run go generate ./cgo", name)
		}
	}
}

//go:build ignore

// gen_native_sum writes native_sum.go, the digest of the C sources package
// cgo includes (internal/nativesum), if it has changed. Run by go generate
// in this directory.
package main

import (
	"bytes"
	"log"
	"os"

	"github.com/crunchsvc/crunch/internal/nativesum"
)

func main() {
	sum, err := nativesum.Sum("..")
	if err != nil {
		log.Fatalf("gen_native_sum: %v", err)
	}
	want := nativesum.File(sum)
	if have, err := os.ReadFile("native_sum.go"); err == nil && bytes.Equal(have, want) {
		return
	}
	if err := os.WriteFile("native_sum.go", want, 0o644); err != nil {
		log.Fatalf("gen_native_sum: %v", err)
	}
}

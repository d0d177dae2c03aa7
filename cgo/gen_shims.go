//go:build ignore

// gen_shims writes shims.h from ../include/crunch.h (internal/cshims), if
// it has changed. Run by go generate in this directory.
package main

import (
	"bytes"
	"log"
	"os"

	"github.com/crunchsvc/crunch/internal/cshims"
)

func main() {
	header, err := os.ReadFile("../include/crunch.h")
	if err != nil {
		log.Fatalf("gen_shims: %v", err)
	}
	src, err := cshims.Generate(header)
	if err != nil {
		log.Fatalf("gen_shims: %v", err)
	}
	if old, err := os.ReadFile("shims.h"); err == nil && bytes.Equal(old, src) {
		return
	}
	if err := os.WriteFile("shims.h", src, 0o644); err != nil {
		log.Fatalf("gen_shims: %v", err)
	}
}

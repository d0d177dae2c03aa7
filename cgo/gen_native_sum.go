//go:build ignore

// gen_native_sum writes what package cgo builds from the C, each file only
// if it has changed: native_sum.go, the digest of the C sources package cgo
// includes (internal/nativesum); the one-line wrapper that includes each
// source (native_*.c), removing wrappers whose source is gone; and
// shims.h, each kernel's call through a shadow thread, from crunch.h
// (internal/cshims). Run by go generate in this directory.
package main

import (
	"bytes"
	"log"
	"os"
	"path/filepath"

	"github.com/crunchsvc/crunch/internal/cshims"
	"github.com/crunchsvc/crunch/internal/nativesum"
)

func main() {
	sum, err := nativesum.Sum("..")
	if err != nil {
		log.Fatalf("gen_native_sum: %v", err)
	}
	writeIfChanged("native_sum.go", nativesum.File(sum))
	wrappers, err := nativesum.Wrappers("..")
	if err != nil {
		log.Fatalf("gen_native_sum: %v", err)
	}
	for name, src := range wrappers {
		writeIfChanged(name, src)
	}
	header, err := os.ReadFile("../include/crunch.h")
	if err != nil {
		log.Fatalf("gen_native_sum: %v", err)
	}
	shims, err := cshims.Generate(header)
	if err != nil {
		log.Fatalf("gen_native_sum: %v", err)
	}
	writeIfChanged("shims.h", shims)
	old, _ := filepath.Glob("native_*.c")
	for _, name := range old {
		if _, ok := wrappers[name]; !ok {
			if err := os.Remove(name); err != nil {
				log.Fatalf("gen_native_sum: %v", err)
			}
		}
	}
}

// writeIfChanged writes name unless it already holds want, so that an
// unchanged file keeps its time and Go's cache its objects.
func writeIfChanged(name string, want []byte) {
	if have, err := os.ReadFile(name); err == nil && bytes.Equal(have, want) {
		return
	}
	if err := os.WriteFile(name, want, 0o644); err != nil {
		log.Fatalf("gen_native_sum: %v", err)
	}
}

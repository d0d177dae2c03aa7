// Package cgo is the Go binding of libcrunch, crunch's C kernel library
// (include/crunch.h). It is a thin, safe layer: Go slices in, Go errors out,
// no copy of the data, and cancellation and progress through Ctx, which
// wraps the C library's crunch_ctx.
//
// The package compiles the C sources in native/ itself (one small wrapper
// file per source), so `go build` needs no CMake and no installed library.
// Build with the tag crunch_system to link a system-installed libcrunch
// through pkg-config instead. CGO must be enabled: with CGO_ENABLED=0 the
// package does not compile, and the error names the cause.
//
// Go's build cache does not watch the sources those wrappers include, so
// native_sum.go holds their digest: `go generate ./cgo` rewrites it when
// they change (make does so before every Go command), and with it Go
// rebuilds the package.
//
// A Ctx may send its calls to a Shadow, a thread of the C library's own
// that a pool worker keeps in its compute cgroup, of the least weight or
// idle (shadow.h says why). Each kernel is called through its shim in
// shims.h, generated from crunch.h by `go generate ./cgo`, which runs it
// on the Ctx's shadow or, without one, on the calling thread.
package cgo

//go:generate go run gen_native_sum.go

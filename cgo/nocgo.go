//go:build !cgo

package cgo

// The kernels are C: without cgo there is nothing to call. This undefined
// name turns a silent link-time surprise into a compile error that says why.
var _ = crunch_needs_cgo__build_with_CGO_ENABLED_1_and_a_C_compiler

//go:build !openblas

package openblas

// Available reports whether this build links OpenBLAS: without the
// openblas build tag it does not, and the functions must not be called.
const Available = false

// GemmF64 is not available without the openblas build tag.
func GemmF64(n int, a, b, c []float64) { panic("openblas: built without the openblas tag") }

// GemmF32 is not available without the openblas build tag.
func GemmF32(n int, a, b, c []float32) { panic("openblas: built without the openblas tag") }

// SetThreads is not available without the openblas build tag.
func SetThreads(n int) { panic("openblas: built without the openblas tag") }

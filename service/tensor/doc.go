// Package tensor holds the dense arrays that crunch moves between clients, the
// server, its executors and the C kernels.
//
// A Tensor is a dtype, a shape and a flat little-endian, row-major byte slice.
// Typed views (Float64, Complex128, …) reinterpret the bytes in place, so a
// tensor decoded from a message can reach a kernel without a copy. The price is
// an invariant every constructor keeps: Data is aligned for the element type
// (New and AlignedBytes go further and align to 64 bytes, a cache line and an
// AVX-512 register).
package tensor

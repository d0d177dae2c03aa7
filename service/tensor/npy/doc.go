// Package npy reads and writes NumPy's .npy files, the format np.save
// writes and np.load reads, as crunch tensors.
//
// It reads versions 1.0, 2.0 and 3.0 of the format, in every dtype crunch
// has (NumPy's uint8, uint16, uint32, int32, int64, float32, float64,
// complex64 and complex128), little- or big-endian (converted), in C or
// Fortran order (copied into C order). Any other file is refused with an
// error that says why: another dtype, a structured one, a header that does
// not match the data that follows it, a shape whose size overflows. It
// writes version 1.0 (2.0 for a header too long for it), little-endian
// and in C order.
package npy

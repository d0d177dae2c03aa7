//go:build cgo

package cgo

/*
#include <crunch.h>
*/
import "C"

// ISA is a SIMD code path of the C kernels (crunch_isa).
type ISA int

// The paths, from none to the widest.
const (
	ISAAuto    ISA = C.CRUNCH_ISA_AUTO
	ISAGeneric ISA = C.CRUNCH_ISA_GENERIC
	ISAAVX2    ISA = C.CRUNCH_ISA_AVX2
	ISAAVX512  ISA = C.CRUNCH_ISA_AVX512
)

// String returns "generic", "avx2", "avx512" or "auto".
func (i ISA) String() string { return C.GoString(C.crunch_isa_name(C.crunch_isa(i))) }

// BestISA returns the path kernels use on this CPU, after CRUNCH_DISABLE.
func BestISA() ISA { return ISA(C.crunch_isa_best()) }

// ISAs returns every path this CPU supports, generic first.
func ISAs() []ISA {
	var out []ISA
	for i := ISAGeneric; i <= BestISA(); i++ {
		out = append(out, i)
	}
	return out
}

// Version returns the C library's version string.
func Version() string { return C.GoString(C.crunch_version()) }

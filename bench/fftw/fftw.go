//go:build fftw

// Package fftw calls FFTW 3 (double and single precision; complex double
// plans on one thread or several), for benchmarks
// only: it shows how close crunch's FFT comes to the reference library on
// this CPU. crunch itself never links FFTW; this package builds only with
// the tag fftw (Debian's libfftw3-dev, which ships libfftw3_threads too:
// apt-get install -y libfftw3-dev).
package fftw

/*
#cgo LDFLAGS: -lfftw3_threads -lfftw3 -lfftw3f -lpthread
#include <stdlib.h>
#include <fftw3.h>
*/
import "C"

import "unsafe"

// ImportWisdom loads the planner's wisdom (what its measurements found)
// from file path, and reports whether it could: later FFTW_MEASURE plans
// of the sizes it covers are made at once, as they were measured before.
func ImportWisdom(path string) bool {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	return C.fftw_import_wisdom_from_filename(cs) != 0
}

// ExportWisdom saves the planner's wisdom to file path (ImportWisdom reads
// it), and reports whether it could.
func ExportWisdom(path string) bool {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	return C.fftw_export_wisdom_to_filename(cs) != 0
}

// Available reports whether this build links FFTW.
const Available = true

// Threaded plans need FFTW's threads set up once, before any planning.
func init() {
	if C.fftw_init_threads() == 0 {
		panic("fftw: fftw_init_threads failed")
	}
}

// Plan is an FFTW plan of one length and direction over its own
// SIMD-aligned input and output arrays (FFTW's memory, not Go's).
type Plan struct {
	n       int
	f32     bool
	p       C.fftw_plan
	pf      C.fftwf_plan
	in, out unsafe.Pointer
}

// flags are the planner flags of r.
func (r Rigor) flags() C.uint {
	if r == Estimate {
		return C.FFTW_ESTIMATE
	}
	return C.FFTW_MEASURE
}

// NewPlanC128 plans an out-of-place complex-double DFT of length n whose
// execution uses up to threads threads. inverse selects FFTW_BACKWARD.
func NewPlanC128(n int, inverse bool, threads int, rigor Rigor) *Plan {
	pl := &Plan{n: n}
	pl.in = unsafe.Pointer(C.fftw_alloc_complex(C.size_t(n)))
	pl.out = unsafe.Pointer(C.fftw_alloc_complex(C.size_t(n)))
	// The thread count is the planner's, global: every plan sets its own.
	C.fftw_plan_with_nthreads(C.int(threads))
	pl.p = C.fftw_plan_dft_1d(C.int(n), (*C.fftw_complex)(pl.in), (*C.fftw_complex)(pl.out), sign(inverse), rigor.flags())
	return pl
}

// NewPlanC64 is NewPlanC128 in single precision (fftwf), on one thread.
func NewPlanC64(n int, inverse bool, rigor Rigor) *Plan {
	pl := &Plan{n: n, f32: true}
	pl.in = unsafe.Pointer(C.fftwf_alloc_complex(C.size_t(n)))
	pl.out = unsafe.Pointer(C.fftwf_alloc_complex(C.size_t(n)))
	pl.pf = C.fftwf_plan_dft_1d(C.int(n), (*C.fftwf_complex)(pl.in), (*C.fftwf_complex)(pl.out), sign(inverse), rigor.flags())
	return pl
}

func sign(inverse bool) C.int {
	if inverse {
		return C.FFTW_BACKWARD
	}
	return C.FFTW_FORWARD
}

// In128 is the input array of a c128 plan.
func (p *Plan) In128() []complex128 { return unsafe.Slice((*complex128)(p.in), p.n) }

// Out128 is the output array of a c128 plan.
func (p *Plan) Out128() []complex128 { return unsafe.Slice((*complex128)(p.out), p.n) }

// In64 is the input array of a c64 plan.
func (p *Plan) In64() []complex64 { return unsafe.Slice((*complex64)(p.in), p.n) }

// Out64 is the output array of a c64 plan.
func (p *Plan) Out64() []complex64 { return unsafe.Slice((*complex64)(p.out), p.n) }

// Execute runs the plan: Out = DFT(In), unnormalised.
func (p *Plan) Execute() {
	if p.f32 {
		C.fftwf_execute(p.pf)
	} else {
		C.fftw_execute(p.p)
	}
}

// Destroy frees the plan and its arrays.
func (p *Plan) Destroy() {
	if p.f32 {
		C.fftwf_destroy_plan(p.pf)
		C.fftwf_free(p.in)
		C.fftwf_free(p.out)
	} else {
		C.fftw_destroy_plan(p.p)
		C.fftw_free(p.in)
		C.fftw_free(p.out)
	}
}

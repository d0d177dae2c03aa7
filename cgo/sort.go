//go:build cgo

package cgo

/*
#include <crunch.h>

#include "shims.h"
*/
import "C"

// SortF64 sorts v in place, ascending or descending (crunch_sort_f64):
// NaNs last in either direction, in their original order and with their
// bits unchanged; -0 before +0 ascending, after it descending. Large
// inputs use a radix sort with a work buffer of len(v) elements.
func SortF64(x *Ctx, v []float64, descending bool) error {
	return check("crunch_sort_f64", C.crunch_go_sort_f64(x.shadowp(), x.cptr(), f64p(v), C.size_t(len(v)), cbool(descending)))
}

// SortF32 is SortF64 for float32 (crunch_sort_f32).
func SortF32(x *Ctx, v []float32, descending bool) error {
	return check("crunch_sort_f32", C.crunch_go_sort_f32(x.shadowp(), x.cptr(), f32p(v), C.size_t(len(v)), cbool(descending)))
}

// SortI64 sorts v in place, ascending or descending (crunch_sort_i64).
func SortI64(x *Ctx, v []int64, descending bool) error {
	return check("crunch_sort_i64", C.crunch_go_sort_i64(x.shadowp(), x.cptr(), cptr[C.int64_t](v), C.size_t(len(v)), cbool(descending)))
}

// SortI32 sorts v in place, ascending or descending (crunch_sort_i32).
func SortI32(x *Ctx, v []int32, descending bool) error {
	return check("crunch_sort_i32", C.crunch_go_sort_i32(x.shadowp(), x.cptr(), cptr[C.int32_t](v), C.size_t(len(v)), cbool(descending)))
}

// SortU32 sorts v in place, ascending or descending (crunch_sort_u32).
func SortU32(x *Ctx, v []uint32, descending bool) error {
	return check("crunch_sort_u32", C.crunch_go_sort_u32(x.shadowp(), x.cptr(), cptr[C.uint32_t](v), C.size_t(len(v)), cbool(descending)))
}

// SortIntoF64 writes v sorted to out, as SortF64 would sort it in place,
// bit for bit, and leaves v unchanged (crunch_sort_into_f64). It costs no
// more than the sort in place: the copy is folded into its first pass.
// out must have v's length and must not overlap it, unless it is v; it is
// only ever written, so it may be memory another process can change.
func SortIntoF64(x *Ctx, v, out []float64, descending bool) error {
	return sortInto("crunch_sort_into_f64", len(v), len(out), func(n C.size_t) C.crunch_status {
		return C.crunch_go_sort_into_f64(x.shadowp(), x.cptr(), f64p(v), f64p(out), n, cbool(descending))
	})
}

// SortIntoF32, SortIntoI64, SortIntoI32 and SortIntoU32 are SortIntoF64
// for their element types (crunch_sort_into_f32, _i64, _i32, _u32).
func SortIntoF32(x *Ctx, v, out []float32, descending bool) error {
	return sortInto("crunch_sort_into_f32", len(v), len(out), func(n C.size_t) C.crunch_status {
		return C.crunch_go_sort_into_f32(x.shadowp(), x.cptr(), f32p(v), f32p(out), n, cbool(descending))
	})
}
func SortIntoI64(x *Ctx, v, out []int64, descending bool) error {
	return sortInto("crunch_sort_into_i64", len(v), len(out), func(n C.size_t) C.crunch_status {
		return C.crunch_go_sort_into_i64(x.shadowp(), x.cptr(), cptr[C.int64_t](v), cptr[C.int64_t](out), n, cbool(descending))
	})
}
func SortIntoI32(x *Ctx, v, out []int32, descending bool) error {
	return sortInto("crunch_sort_into_i32", len(v), len(out), func(n C.size_t) C.crunch_status {
		return C.crunch_go_sort_into_i32(x.shadowp(), x.cptr(), cptr[C.int32_t](v), cptr[C.int32_t](out), n, cbool(descending))
	})
}
func SortIntoU32(x *Ctx, v, out []uint32, descending bool) error {
	return sortInto("crunch_sort_into_u32", len(v), len(out), func(n C.size_t) C.crunch_status {
		return C.crunch_go_sort_into_u32(x.shadowp(), x.cptr(), cptr[C.uint32_t](v), cptr[C.uint32_t](out), n, cbool(descending))
	})
}

// sortInto makes call, with n the elements of v, once it has checked that
// out (outLen elements) has v's length (vLen).
func sortInto(fn string, vLen, outLen int, call func(n C.size_t) C.crunch_status) error {
	if outLen != vLen {
		return invalid(fn, "out has %d elements, v %d", outLen, vLen)
	}
	return check(fn, call(C.size_t(vLen)))
}

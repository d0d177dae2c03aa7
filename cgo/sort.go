//go:build cgo

package cgo

/*
#include <crunch.h>
*/
import "C"

import "unsafe"

// SortF64 sorts v in place, ascending or descending (crunch_sort_f64):
// NaNs last in either direction, in their original order and with their
// bits unchanged; -0 before +0 ascending, after it descending. Large
// inputs use a radix sort with a work buffer of len(v) elements.
func SortF64(x *Ctx, v []float64, descending bool) error {
	return check("crunch_sort_f64", C.crunch_sort_f64(x.cptr(), f64p(v), C.size_t(len(v)), cbool(descending)))
}

// SortF32 is SortF64 for float32 (crunch_sort_f32).
func SortF32(x *Ctx, v []float32, descending bool) error {
	return check("crunch_sort_f32", C.crunch_sort_f32(x.cptr(), f32p(v), C.size_t(len(v)), cbool(descending)))
}

// SortI64 sorts v in place, ascending or descending (crunch_sort_i64).
func SortI64(x *Ctx, v []int64, descending bool) error {
	return check("crunch_sort_i64", C.crunch_sort_i64(x.cptr(), sortPtr[C.int64_t](v), C.size_t(len(v)), cbool(descending)))
}

// SortI32 sorts v in place, ascending or descending (crunch_sort_i32).
func SortI32(x *Ctx, v []int32, descending bool) error {
	return check("crunch_sort_i32", C.crunch_sort_i32(x.cptr(), sortPtr[C.int32_t](v), C.size_t(len(v)), cbool(descending)))
}

// SortU32 sorts v in place, ascending or descending (crunch_sort_u32).
func SortU32(x *Ctx, v []uint32, descending bool) error {
	return check("crunch_sort_u32", C.crunch_sort_u32(x.cptr(), sortPtr[C.uint32_t](v), C.size_t(len(v)), cbool(descending)))
}

// sortPtr returns &s[0] as a *P (the C element type of the same size), or
// nil for an empty slice, like f64p; it is used in the call expression.
func sortPtr[P, T any](s []T) *P {
	if len(s) == 0 {
		return nil
	}
	return (*P)(unsafe.Pointer(&s[0]))
}

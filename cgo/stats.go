//go:build cgo

package cgo

/*
#include <crunch.h>

#include "shims.h"
*/
import "C"

// Stats is what crunch_stats_f64 computes over a set of values (see
// include/crunch.h for the exact rules on NaN, ±Inf and signed zeros).
type Stats struct {
	Count int64   // number of elements
	Sum   float64 // their sum, accurate to a few ulps of sum(|x|) for any n
	Mean  float64 // Sum / Count
	Var   float64 // sum of squared deviations from Mean, divided by Count - ddof
	Std   float64 // sqrt(Var)
	Min   float64 // smallest element; -0 is below +0
	Max   float64 // largest element; +0 is above -0
}

// StatsF64 returns the count, sum, mean, variance (dividing by
// len(v) - ddof), standard deviation, minimum and maximum of v
// (crunch_stats_f64). An empty v gives Count 0, Sum 0 and NaN for the rest;
// otherwise ddof must lie in [0, len(v)).
func StatsF64(x *Ctx, v []float64, ddof int) (Stats, error) { return stats(x, v, ddof) }

// StatsF32 is StatsF64 for float32 input, accumulated in float64
// (crunch_stats_f32).
func StatsF32(x *Ctx, v []float32, ddof int) (Stats, error) { return stats(x, v, ddof) }

// stats is StatsF64 and StatsF32: the C function for v's type.
func stats[T float32 | float64](x *Ctx, v []T, ddof int) (Stats, error) {
	fn := "crunch_stats_f64"
	if _, ok := any(v).([]float32); ok {
		fn = "crunch_stats_f32"
	}
	if err := statsCheck(fn, len(v), ddof); err != nil {
		return Stats{}, err
	}
	var out C.crunch_stats
	var st C.crunch_status
	switch v := any(v).(type) {
	case []float64:
		st = C.crunch_go_stats_f64(x.shadowp(), x.cptr(), f64p(v), C.size_t(len(v)), C.size_t(ddof), &out)
	case []float32:
		st = C.crunch_go_stats_f32(x.shadowp(), x.cptr(), f32p(v), C.size_t(len(v)), C.size_t(ddof), &out)
	}
	err := check(fn, st)
	return statsFromC(&out), err
}

// statsCheck refuses a ddof that C cannot see (negative: size_t would wrap)
// or would refuse without saying why.
func statsCheck(fn string, n, ddof int) error {
	if ddof < 0 {
		return invalid(fn, "ddof is %d, must be >= 0", ddof)
	}
	if n > 0 && ddof >= n {
		return invalid(fn, "ddof is %d, must be below the element count %d", ddof, n)
	}
	return nil
}

func statsFromC(s *C.crunch_stats) Stats {
	return Stats{
		Count: int64(s.count),
		Sum:   float64(s.sum), Mean: float64(s.mean), Var: float64(s._var), Std: float64(s.std),
		Min: float64(s.min), Max: float64(s.max),
	}
}

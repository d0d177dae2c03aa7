package server_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// statsClose compares a reply with the Go implementation's result for the
// same values: equal counts, min and max (zeros' signs included); var and
// std within 1e-13 relative, sum and mean within 4 eps of sum(|x|) (C and Go
// may differ in the last bits, and a sum that cancels has few correct
// digits of its own); NaN matching NaN.
func statsClose(got *client.StatsResult, want cgo.Stats, absSum float64) bool {
	near := func(a, b, tol float64) bool {
		if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(b, 0) {
			return a == b || (math.IsNaN(a) && math.IsNaN(b))
		}
		return math.Abs(a-b) <= tol
	}
	rel := func(a, b float64) bool { return near(a, b, 1e-13*math.Abs(b)+1e-300) }
	same := func(a, b float64) bool { return near(a, b, 0) && math.Signbit(a) == math.Signbit(b) }
	tol := 4*0x1p-52*absSum + 1e-300
	return got.Count == want.Count && near(got.Sum, want.Sum, tol) &&
		near(got.Mean, want.Mean, tol/float64(max(want.Count, 1))) &&
		rel(got.Var, want.Var) && rel(got.Std, want.Std) && same(got.Min, want.Min) && same(got.Max, want.Max)
}

func absSum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += math.Abs(v)
	}
	return s
}

// TestStatsEveryExecImplAndForm: f64 and f32 tensors of several shapes
// through every executor, both implementations, text and binary messages.
func TestStatsEveryExecImplAndForm(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(8, 9))
	for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
		x := randMatrix(r, dt, 37, 61) // 2257 elements: one full block and a tail
		vals := make([]float64, 37*61)
		for i := range vals {
			vals[i] = at(x, i)
		}
		x64 := tensor.FromFloat64([]int{len(vals)}, vals)
		want, err := kernels.StatsGo(nil, x64.Float64(), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range execNames {
			for _, impl := range implsOf(t, "stats") {
				for _, text := range []bool{false, true} {
					got, st, err := c.Stats(context.Background(), x, 1, &client.Options{Exec: ex, Impl: impl, Text: text})
					if err != nil {
						t.Fatalf("%s %s/%s text=%v: %v", dt, ex, impl, text, err)
					}
					if !statsClose(got, want, absSum(vals)) {
						t.Errorf("%s %s/%s text=%v: %+v, want %+v", dt, ex, impl, text, got, want)
					}
					if st == nil || (ex != "auto" && st.Exec != ex) || st.Impl != impl {
						t.Errorf("%s %s/%s: stats %+v", dt, ex, impl, st)
					}
				}
			}
		}
	}
}

// TestStatsNonFinite: NaN and ±Inf results travel as shape [] f64 tensors,
// so the reply is binary even to a text request (PROTOCOL.md, Tensors).
func TestStatsNonFinite(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		name string
		x    []float64
		text bool
		want cgo.Stats
	}{
		{"nan", []float64{1, nan, 3}, false, cgo.Stats{Count: 3, Sum: nan, Mean: nan, Var: nan, Std: nan, Min: nan, Max: nan}},
		{"inf", []float64{1, inf, -0.5}, false, cgo.Stats{Count: 3, Sum: inf, Mean: inf, Var: nan, Std: nan, Min: -0.5, Max: inf}},
		{"both infs", []float64{-inf, inf}, false, cgo.Stats{Count: 2, Sum: nan, Mean: nan, Var: nan, Std: nan, Min: -inf, Max: inf}},
		{"empty, text request", []float64{}, true, cgo.Stats{Count: 0, Sum: 0, Mean: nan, Var: nan, Std: nan, Min: nan, Max: nan}},
		{"signed zeros, text request", []float64{0, math.Copysign(0, -1)}, true, cgo.Stats{Count: 2, Min: math.Copysign(0, -1)}},
	}
	for _, tc := range cases {
		for _, ex := range runExecs {
			for _, impl := range implsOf(t, "stats") {
				x := tensor.FromFloat64([]int{len(tc.x)}, tc.x)
				got, _, err := c.Stats(context.Background(), x, 0, &client.Options{Exec: ex, Impl: impl, Text: tc.text})
				if err != nil {
					t.Fatalf("%s %s/%s: %v", tc.name, ex, impl, err)
				}
				if !statsClose(got, tc.want, absSum(tc.x)) {
					t.Errorf("%s %s/%s: %+v, want %+v", tc.name, ex, impl, got, tc.want)
				}
			}
		}
	}
}

// TestStatsBadArgs: refusals over the wire, with messages that say why.
func TestStatsBadArgs(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	three := tensor.FromFloat64([]int{3}, []float64{1, 2, 3})
	ints := tensor.FromInt32([]int{2}, []int32{1, 2})
	_, _, err := c.Stats(context.Background(), three, 3, nil)
	if e := wantCode(t, "ddof = count", err, wire.InvalidArgument); !strings.Contains(e.Message, "ddof") {
		t.Errorf("message %q", e.Message)
	}
	_, _, err = c.Stats(context.Background(), three, -1, &client.Options{Text: true})
	wantCode(t, "negative ddof", err, wire.InvalidArgument)
	_, _, err = c.Stats(context.Background(), ints, 0, nil)
	if e := wantCode(t, "i32", err, wire.InvalidArgument); !strings.Contains(e.Message, "i32") {
		t.Errorf("message %q", e.Message)
	}
	_, _, err = c.Stats(context.Background(), three, 0, &client.Options{Impl: "gonum"})
	wantCode(t, "impl gonum", err, wire.NotFound)
}

// TestStatsAndSortInInfo: info describes both ops' arguments, as a client
// needs them to build calls.
func TestStatsAndSortInInfo(t *testing.T) {
	ts := start(t, nil)
	info, err := ts.dial(t).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ops []struct {
		Name  string   `json:"name"`
		Impls []string `json:"impls"`
		Args  []struct {
			Name    string   `json:"name"`
			Kind    string   `json:"kind"`
			DTypes  []string `json:"dtypes"`
			Default any      `json:"default"`
		} `json:"args"`
	}
	if err := json.Unmarshal(info["ops"], &ops); err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, op := range ops {
		var desc []string
		for _, a := range op.Args {
			b, _ := json.Marshal(a)
			desc = append(desc, string(b))
		}
		found[op.Name] = strings.Join(op.Impls, ",") + " " + strings.Join(desc, " ")
	}
	for op, want := range map[string][]string{
		"stats": {"c,go ", `{"name":"x","kind":"tensor","dtypes":["f32","f64"],"default":null}`, `{"name":"ddof","kind":"int","dtypes":null,"default":0}`},
		"sort":  {"c,go ", `"dtypes":["i32","i64","u32","f32","f64"]`, `{"name":"descending","kind":"bool","dtypes":null,"default":false}`},
	} {
		for _, w := range want {
			if !strings.Contains(found[op], w) {
				t.Errorf("info for %s: %s lacks %s", op, found[op], w)
			}
		}
	}
}

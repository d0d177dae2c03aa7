package wire

import (
	"math"
	"testing"

	"github.com/crunchsvc/crunch/service/tensor"
)

func TestArgs(t *testing.T) {
	req := decodeText(t, `{"id":1,"op":"x","args":{
		"t": [1, 2], "n": 7, "k": 1e3, "kf": 1000.0, "frac": 1.5, "big": 1e30, "neg": -9223372036854775808,
		"f": 0.25, "huge": 1e400, "b": false, "s": "héllo\n", "nul": null}}`)
	a := req.Args
	if x, err := a.Tensor("t"); err != nil || x.Len() != 2 {
		t.Errorf("Tensor(t) = %v, %v", x, err)
	}
	_, err := a.Tensor("missing")
	wantInvalid(t, err, `argument "missing" is required`)
	_, err = a.Tensor("n")
	wantInvalid(t, err, `argument "n" must be a tensor, got a number`)
	_, err = a.Tensor("nul")
	wantInvalid(t, err, `argument "nul" is required`)
	if x, err := a.OptTensor("missing"); x != nil || err != nil {
		t.Errorf("OptTensor(missing) = %v, %v", x, err)
	}
	if x, err := a.OptTensor("nul"); x != nil || err != nil {
		t.Errorf("OptTensor(nul) = %v, %v", x, err)
	}
	_, err = a.OptTensor("s")
	wantInvalid(t, err, `argument "s" must be a tensor, got a string`)

	for name, want := range map[string]int64{"n": 7, "k": 1000, "kf": 1000, "neg": math.MinInt64, "missing": 42, "nul": 42} {
		if v, err := a.Int(name, 42); v != want || err != nil {
			t.Errorf("Int(%s) = %d, %v; want %d", name, v, err, want)
		}
	}
	_, err = a.Int("frac", 0)
	wantInvalid(t, err, `argument "frac" must be an integer, got 1.5`)
	_, err = a.Int("big", 0)
	wantInvalid(t, err, `argument "big" is out of range`, "1e30")
	_, err = a.Int("s", 0)
	wantInvalid(t, err, `argument "s" must be an integer, got a string`)
	_, err = a.Int("t", 0)
	wantInvalid(t, err, `argument "t" must be an integer, got an f64 tensor`)

	for name, want := range map[string]float64{"f": 0.25, "n": 7, "big": 1e30, "missing": -1, "nul": -1} {
		if v, err := a.Float(name, -1); v != want || err != nil {
			t.Errorf("Float(%s) = %v, %v; want %v", name, v, err, want)
		}
	}
	_, err = a.Float("huge", 0)
	wantInvalid(t, err, `argument "huge" is out of range`)
	_, err = a.Float("b", 0)
	wantInvalid(t, err, `argument "b" must be a number, got a boolean`)

	if v, err := a.Bool("b", true); v || err != nil {
		t.Errorf("Bool(b) = %v, %v", v, err)
	}
	if v, err := a.Bool("missing", true); !v || err != nil {
		t.Errorf("Bool(missing) = %v, %v", v, err)
	}
	_, err = a.Bool("n", false)
	wantInvalid(t, err, `argument "n" must be a boolean, got a number`)

	if v, err := a.String("s", ""); v != "héllo\n" || err != nil {
		t.Errorf("String(s) = %q, %v", v, err)
	}
	if v, err := a.String("nul", "same"); v != "same" || err != nil {
		t.Errorf("String(nul) = %q, %v", v, err)
	}
	_, err = a.String("n", "")
	wantInvalid(t, err, `argument "n" must be a string, got a number`)
}

func TestArgsOnly(t *testing.T) {
	a := Args{"a": Int(1), "b": Int(2), "zz": Int(3), "x": Int(4)}
	if err := a.Only("gemm", "a", "b", "x", "zz"); err != nil {
		t.Error(err)
	}
	wantInvalid(t, a.Only("gemm", "a", "b", "c", "alpha"), `gemm: unknown argument "x" (expected a, b, c, alpha)`)
	wantInvalid(t, a.Only("ping"), `ping: unknown argument "a" (expected none)`)
	if err := (Args{}).Only("ping"); err != nil {
		t.Error(err)
	}
}

func TestResultAccessors(t *testing.T) {
	r := Result{
		"t":     Int(12),
		"mean":  Float(2.5),
		"nan":   Float(math.NaN()),
		"f32":   TensorValue(tensor.FromFloat32([]int{}, []float32{1.5})),
		"ok":    Bool(true),
		"name":  String("c"),
		"x":     TensorValue(tensor.FromFloat64([]int{1}, []float64{1})),
		"empty": TensorValue(tensor.FromFloat64([]int{0}, nil)),
	}
	if v, err := r.Int("t", 0); v != 12 || err != nil {
		t.Errorf("Int = %v %v", v, err)
	}
	if v, err := r.Float("mean", 0); v != 2.5 || err != nil {
		t.Errorf("Float = %v %v", v, err)
	}
	if v, err := r.Float("nan", 0); !math.IsNaN(v) || err != nil {
		t.Errorf("Float(nan) = %v %v", v, err)
	}
	if v, err := r.Float("f32", 0); v != 1.5 || err != nil {
		t.Errorf("Float(f32) = %v %v", v, err)
	}
	_, err := r.Float("x", 0) // a shape [1] tensor is not a number
	wantInvalid(t, err, `result "x" must be a number`)
	if v, err := r.Bool("ok", false); !v || err != nil {
		t.Errorf("Bool = %v %v", v, err)
	}
	if v, err := r.String("name", ""); v != "c" || err != nil {
		t.Errorf("String = %v %v", v, err)
	}
	if x, err := r.Tensor("empty"); err != nil || x.Len() != 0 {
		t.Errorf("Tensor = %v %v", x, err)
	}
	_, err = r.Tensor("nope")
	wantInvalid(t, err, `result "nope" is required`)
}

func TestValueConstructors(t *testing.T) {
	for _, c := range []struct {
		v    Value
		want string
	}{
		{Int(-42), "-42"}, {Float(1e21), "1e+21"}, {Float(0.1), "0.1"}, {Float(math.Copysign(0, -1)), "-0"},
		{Bool(true), "true"}, {String("a\"b"), `"a\"b"`}, {Null(), "null"},
	} {
		if string(c.v.JSON) != c.want || c.v.Tensor != nil {
			t.Errorf("got %s, want %s", c.v.JSON, c.want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		v := Float(f)
		if v.JSON != nil || v.Tensor == nil || len(v.Tensor.Shape) != 0 || v.Tensor.DType != tensor.F64 {
			t.Errorf("Float(%v) = %+v, want a shape [] f64 tensor", f, v)
		}
	}
	if !(Value{}).IsNull() || Int(0).IsNull() {
		t.Error("IsNull")
	}
	if !Int(3).Equal(Value{JSON: []byte(" 3 ")}) || Int(3).Equal(Float(3.5)) || Int(3).Equal(Float(math.NaN())) {
		t.Error("Equal")
	}
}

package wire

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/crunchsvc/crunch/service/tensor"
)

func TestRequestRoundTripDTypes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dt := range tensor.DTypes() {
		for _, shape := range shapes {
			t.Run(fmt.Sprintf("%v%v", dt, shape), func(t *testing.T) {
				roundTripRequest(t, &Request{
					ID: 7, Op: "gemm",
					Args: Args{"a": TensorValue(randomTensor(rng, dt, shape...)), "n": Int(3)},
				})
			})
		}
	}
}

func TestRequestRoundTripFields(t *testing.T) {
	for _, req := range []*Request{
		{ID: 1, Op: "ping", Args: Args{}},
		{ID: MaxID, Op: "x", Args: scalars},
		{ID: 42, Op: "fft", Exec: "pool", Impl: "gonum", TimeoutMS: 30000, Progress: true, Reply: "binary", Args: Args{}},
		{ID: 43, Op: "fft", Exec: "auto", Impl: "auto", Reply: "text", Threads: 2, Args: Args{}},
		{ID: 44, Op: "mandelbrot", Exec: "subprocess", Impl: "c", Args: Args{"width": Int(640), "x_min": Float(-2.5)}},
		{ID: 45, Op: "sort", Exec: "direct", Impl: "go", Args: Args{
			"x":     TensorValue(tensor.FromInt32([]int{3}, []int32{3, -1, 2})),
			"y":     TensorValue(tensor.FromComplex64([]int{1}, []complex64{complex(float32(0.1), -3)})),
			"empty": TensorValue(tensor.FromFloat64([]int{0, 5}, nil)),
			"desc":  Bool(true),
		}},
		{ID: 46, Op: "op with \"quotes\" and ünïcode", Args: Args{"wéird \"key\"\n": Int(1)}},
	} {
		roundTripRequest(t, req)
	}
}

func TestRequestRoundTripLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	roundTripRequest(t, &Request{ID: 5, Op: "stats", Args: Args{
		"x": TensorValue(randomTensor(rng, tensor.F64, 1000, 1000)),
		"y": TensorValue(randomTensor(rng, tensor.C64, 300, 300)),
		"z": TensorValue(randomTensor(rng, tensor.U8, 1<<20)),
	}})
}

func TestReplyRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := 0.42
	zero := 0.0
	res := Result{}
	for _, dt := range tensor.DTypes() {
		res[dt.String()] = TensorValue(randomTensor(rng, dt, 4, 3))
	}
	for k, v := range scalars {
		res[k] = v
	}
	for i, rep := range []*Reply{
		{ID: 7, OK: true, Result: Result{"c": TensorValue(randomTensor(rng, tensor.F64, 2, 2))},
			Stats: &Stats{Exec: "pool", Impl: "c", QueueUS: 12, RunUS: 3400, Worker: 3}},
		{ID: 8, OK: true, Result: res},
		{ID: 9, OK: true, Result: Result{}},
		{ID: 10, OK: true, Result: Result{"big": TensorValue(randomTensor(rng, tensor.F32, 1<<18))}},
		{ID: 7, Error: &Error{Code: InvalidArgument, Message: "gemm: a is [3,4] but b is [5,2]: inner dimensions differ"}},
		{ID: 0, Error: &Error{Code: InvalidArgument, Message: "text message: not valid JSON"}},
		{ID: 11, Error: &Error{Code: Overloaded, Message: "queue full", RetryAfterMS: 250}},
		{ID: 11, Error: &Error{Code: Overloaded, Message: "queue full"}},
		{ID: 12, Error: &Error{Code: "future_code", Message: "ünïcode \"msg\""}},
		{ID: 13, Progress: &p},
		{ID: 13, Progress: &zero},
	} {
		for _, bin := range []bool{false, true} {
			msg, isBin, err := EncodeReply(rep, bin)
			if err != nil || isBin != bin {
				t.Fatalf("%d: EncodeReply(binary=%v) = %v, %v", i, bin, isBin, err)
			}
			got, err := DecodeReply(bin, msg)
			if err != nil {
				t.Fatalf("%d: DecodeReply(binary=%v): %v\n%.300s", i, bin, err, msg)
			}
			if !got.Equal(rep) {
				t.Fatalf("%d binary=%v: decoded %+v, want %+v", i, bin, got, rep)
			}
		}
	}
}

func TestTextFormsExact(t *testing.T) {
	p := 0.42
	for _, c := range []struct {
		rep  *Reply
		want string
	}{
		{&Reply{ID: 7, Progress: &p}, `{"id":7,"progress":0.42}`},
		{&Reply{ID: 7, Error: Errorf(InvalidArgument, "bad %s", "a")},
			`{"id":7,"ok":false,"error":{"code":"invalid_argument","message":"bad a"}}`},
		{&Reply{ID: 0, Error: &Error{Code: Overloaded, Message: "full", RetryAfterMS: 100}},
			`{"id":0,"ok":false,"error":{"code":"overloaded","message":"full","retry_after_ms":100}}`},
		{&Reply{ID: 7, Error: &Error{Code: Internal, Message: "x", RetryAfterMS: 100}},
			`{"id":7,"ok":false,"error":{"code":"internal","message":"x"}}`},
		{&Reply{ID: 7, OK: true, Result: Result{
			"c": TensorValue(tensor.FromFloat64([]int{2}, []float64{1, 2.5})),
			"z": TensorValue(tensor.FromComplex64([]int{1}, []complex64{complex(float32(0.1), -1e-7)})),
			"n": Int(3)},
			Stats: &Stats{Exec: "pool", Impl: "c", QueueUS: 12, RunUS: 3400}},
			`{"id":7,"ok":true,"result":{"c":{"dtype":"f64","shape":[2],"data":[1,2.5]},"n":3,` +
				`"z":{"dtype":"c64","shape":[1],"data":[0.1,-1e-07]}},` +
				`"stats":{"exec":"pool","impl":"c","queue_us":12,"run_us":3400}}`},
	} {
		msg, isBin, err := EncodeReply(c.rep, false)
		if err != nil || isBin || string(msg) != c.want {
			t.Errorf("EncodeReply = %s, %v, %v\nwant %s", msg, isBin, err, c.want)
		}
	}
	for _, c := range []struct {
		req  *Request
		want string
	}{
		{&Request{ID: 9, Op: "ping"}, `{"id":9,"op":"ping"}`},
		{&Request{ID: 8, Op: "cancel", Args: Args{"target": Int(7)}}, `{"id":8,"op":"cancel","args":{"target":7}}`},
		{&Request{ID: 1, Op: "fft", Exec: "pool", Impl: "c", TimeoutMS: 5, Progress: true, Reply: "binary",
			Args: Args{"x": TensorValue(tensor.FromUint8([]int{2, 1}, []uint8{0, 255}))}},
			`{"id":1,"op":"fft","args":{"x":{"dtype":"u8","shape":[2,1],"data":[0,255]}},` +
				`"exec":"pool","impl":"c","timeout_ms":5,"progress":true,"reply":"binary"}`},
	} {
		msg, err := EncodeRequest(c.req, false)
		if err != nil || string(msg) != c.want {
			t.Errorf("EncodeRequest = %s, %v\nwant %s", msg, err, c.want)
		}
	}
}

func TestNonfiniteReplyGoesBinary(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		rep := &Reply{ID: 3, OK: true, Result: Result{
			"x":    TensorValue(tensor.FromFloat64([]int{3}, []float64{1, v, 2})),
			"mean": Float(v),
		}}
		msg, isBin, err := EncodeReply(rep, false)
		if err != nil || !isBin {
			t.Fatalf("EncodeReply(%v) = %v, %v; want a binary reply", v, isBin, err)
		}
		got, err := DecodeReply(true, msg)
		if err != nil || !got.Equal(rep) {
			t.Fatalf("DecodeReply: %v, %+v", err, got)
		}
		mean, err := got.Result.Float("mean", 0)
		if err != nil || !(math.IsNaN(v) && math.IsNaN(mean) || mean == v) {
			t.Errorf("Result.Float(mean) = %v, %v; want %v", mean, err, v)
		}
		// A request cannot fall back: text encoding fails and says why.
		_, err = EncodeRequest(&Request{ID: 1, Op: "stats", Args: Args(rep.Result)}, false)
		wantInvalid(t, err, `argument "mean"`, "NaN", "binary")
		if _, err := EncodeRequest(&Request{ID: 1, Op: "stats", Args: Args(rep.Result)}, true); err != nil {
			t.Errorf("binary EncodeRequest: %v", err)
		}
	}
	for _, v := range []complex128{complex(math.NaN(), 0), complex(0, math.Inf(1))} {
		rep := &Reply{ID: 3, OK: true, Result: Result{"y": TensorValue(tensor.FromComplex128([]int{1}, []complex128{v}))}}
		if _, isBin, err := EncodeReply(rep, false); err != nil || !isBin {
			t.Errorf("complex %v: isBinary %v, %v", v, isBin, err)
		}
	}
	f := tensor.FromFloat32([]int{1}, []float32{float32(math.Inf(-1))})
	if _, isBin, err := EncodeReply(&Reply{ID: 3, OK: true, Result: Result{"y": TensorValue(f)}}, false); err != nil || !isBin {
		t.Errorf("f32 -Inf: isBinary %v, %v", isBin, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	bad := &tensor.Tensor{DType: tensor.F64, Shape: []int{3}, Data: make([]byte, 8)}
	for _, c := range []struct {
		req  *Request
		want string
	}{
		{nil, "nil request"},
		{&Request{ID: 0, Op: "x"}, "id 0"},
		{&Request{ID: MaxID + 1, Op: "x"}, "id"},
		{&Request{ID: 1}, "no op"},
		{&Request{ID: 1, Op: "x", TimeoutMS: -1}, "negative"},
		{&Request{ID: 1, Op: "x", Reply: "xml"}, `"reply" must be one of`},
		{&Request{ID: 1, Op: "x", Args: Args{"a": TensorValue(bad)}}, `argument "a"`},
		{&Request{ID: 1, Op: "x", Args: Args{"a": {JSON: []byte("[1,2]")}}}, "not a JSON number"},
		{&Request{ID: 1, Op: "x", Args: Args{"a": {JSON: []byte("nope")}}}, "not a JSON number"},
		{&Request{ID: 1, Op: "x", Args: Args{"a": {JSON: []byte("1"), Tensor: bad}}}, "both"},
	} {
		for _, bin := range []bool{false, true} {
			_, err := EncodeRequest(c.req, bin)
			wantInvalid(t, err, c.want)
		}
	}
	for _, rep := range []*Reply{nil, {ID: -1}, {ID: 1}, {ID: 1, OK: true, Result: Result{"a": TensorValue(bad)}}} {
		_, _, err := EncodeReply(rep, false)
		if e := AsError(err); e == nil || e.Code != Internal {
			t.Errorf("EncodeReply(%+v) = %v, want an internal error", rep, err)
		}
	}
	if msg, _, err := EncodeReply(&Reply{ID: 1, OK: true, Result: Result{"v": {}}}, false); err != nil || string(msg) != `{"id":1,"ok":true,"result":{"v":null}}` {
		t.Errorf("zero Value: %s, %v", msg, err)
	}
	big, small := math.Inf(1), -3.0
	for _, c := range []struct {
		p    *float64
		want string
	}{{&big, "1"}, {&small, "0"}} {
		msg, _, _ := EncodeReply(&Reply{ID: 1, Progress: c.p}, false)
		if string(msg) != `{"id":1,"progress":`+c.want+`}` {
			t.Errorf("progress %v encoded as %s", *c.p, msg)
		}
	}
}

func TestReplyBinary(t *testing.T) {
	for _, c := range []struct {
		reply  string
		binary bool
		want   bool
	}{{"", false, false}, {"", true, true}, {"text", true, false}, {"binary", false, true}} {
		if got := (&Request{Reply: c.reply, Binary: c.binary}).ReplyBinary(); got != c.want {
			t.Errorf("Reply %q Binary %v: ReplyBinary() = %v", c.reply, c.binary, got)
		}
	}
}

// Results may carry JSON objects and arrays (info does); they come back as
// raw JSON, and a tensor object beside them is still a tensor.
func TestStructuredResults(t *testing.T) {
	rep := &Reply{ID: 3, OK: true, Result: Result{
		"cpu":  Value{JSON: []byte(`{"model":"x","isas":["avx2"]}`)},
		"list": Value{JSON: []byte(`["a",1]`)},
		"c":    TensorValue(tensor.FromFloat64([]int{2}, []float64{1, 2})),
	}}
	for _, bin := range []bool{false, true} {
		msg, _, err := EncodeReply(rep, bin)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeReply(bin, msg)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Result["cpu"].JSON) != `{"model":"x","isas":["avx2"]}` || string(got.Result["list"].JSON) != `["a",1]` {
			t.Errorf("binary=%v: %s %s", bin, got.Result["cpu"].JSON, got.Result["list"].JSON)
		}
		if got.Result["c"].Tensor == nil {
			t.Errorf("binary=%v: tensor lost", bin)
		}
	}
	// arguments stay strict
	if _, err := EncodeRequest(&Request{ID: 1, Op: "x", Args: Args{"a": Value{JSON: []byte(`{"k":1}`)}}}, false); err == nil {
		t.Error("object argument accepted")
	}
}

package wire

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/tensor"
)

// seedRequests are valid requests the fuzz targets start from, in both forms.
func seedRequests() []*Request {
	rng := rand.New(rand.NewPCG(7, 8))
	args := Args{"n": Int(3), "s": String("same"), "b": Bool(true), "f": Float(0.5), "z": Null()}
	for _, dt := range tensor.DTypes() {
		args[dt.String()] = TensorValue(randomTensor(rng, dt, 2, 2))
	}
	return []*Request{
		{ID: 9, Op: "ping"},
		{ID: 7, Op: "gemm", Args: Args{"a": TensorValue(randomTensor(rng, tensor.F64, 2, 3)), "b": TensorValue(randomTensor(rng, tensor.F32, 3))},
			Exec: "pool", Impl: "c", TimeoutMS: 100, Progress: true, Reply: "text"},
		{ID: 8, Op: "all", Args: args},
		{ID: 10, Op: "empty", Args: Args{"e": TensorValue(tensor.FromFloat64([]int{0, 3}, nil)), "s": TensorValue(tensor.FromInt64([]int{}, []int64{-1}))}},
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, req := range seedRequests() {
		for _, bin := range []bool{false, true} {
			msg, err := EncodeRequest(req, bin)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(bin, msg)
		}
	}
	for _, c := range malformedCases() {
		f.Add(c.binary, c.msg)
	}
	f.Add(false, []byte(`{"id":1,"op":"x","args":{"a":[[1,2],[3,4]],"b":{"dtype":"u8","shape":[2],"data":[1e2,2.0]}}}`))
	f.Fuzz(checkRequest)
}

// FuzzDecodeArg fuzzes one argument of a text and a binary request, which
// reaches the tensor decoders sooner than mutating whole messages does.
func FuzzDecodeArg(f *testing.F) {
	f.Add(`{"dtype":"c64","shape":[2],"data":[1,2,3,4]}`, `[[128,8]]`, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(`[[1,2],[3,4.5e-3]]`, `[]`, []byte{})
	f.Add(`{"dtype":"u16","shape":[2,2],"buffer":0}`, `[[128,8]]`, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(`{"dtype":"i64","shape":[1],"buffer":0}`, `[[136,8],[128,8]]`, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add(`-1.5e3`, `null`, []byte{})
	f.Fuzz(func(t *testing.T, arg, buffers string, payload []byte) {
		checkRequest(t, false, []byte(`{"id":1,"op":"x","args":{"a":`+arg+`}}`))
		hdr := `{"id":1,"op":"x","args":{"a":` + arg + `},"buffers":` + buffers + `}`
		if len(hdr) <= 120 {
			checkRequest(t, true, frame(hdr, 0, map[int][]byte{128: payload}))
		}
	})
}

// checkRequest decodes msg and, if it is accepted, checks that it re-encodes
// in both forms to the same request.
func checkRequest(t *testing.T, bin bool, msg []byte) {
	req, err := DecodeRequest(bin, msg)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Code != InvalidArgument || e.Message == "" {
			t.Fatalf("error %v (%T) is not an invalid_argument *Error", err, err)
		}
		if req != nil && (req.ID < 1 || req.ID > MaxID || req.Args != nil) {
			t.Fatalf("error with request %+v", req)
		}
		return
	}
	if req == nil || req.Binary != bin || req.ID < 1 || req.ID > MaxID || req.Op == "" || req.Args == nil {
		t.Fatalf("accepted request %+v", req)
	}
	for _, v := range req.Args {
		if v.Tensor != nil {
			if err := v.Tensor.Validate(); err != nil {
				t.Fatalf("decoded tensor: %v", err)
			}
		}
	}
	for _, form := range []bool{false, true} {
		enc, err := EncodeRequest(req, form)
		if err != nil {
			if !form && strings.Contains(err.Error(), "NaN or ±Inf") {
				continue // only a binary message carries those
			}
			t.Fatalf("re-encoding (binary=%v) %+v: %v", form, req, err)
		}
		got, err := DecodeRequest(form, enc)
		if err != nil {
			t.Fatalf("decoding the re-encoding (binary=%v): %v\n%q", form, err, enc)
		}
		if !got.Equal(req) {
			t.Fatalf("binary=%v: re-encoded request differs:\n%+v\n%+v", form, got, req)
		}
	}
}

func FuzzDecodeReply(f *testing.F) {
	p := 0.5
	rng := rand.New(rand.NewPCG(9, 10))
	for _, rep := range []*Reply{
		{ID: 1, OK: true, Result: Result{"c": TensorValue(randomTensor(rng, tensor.C128, 2)), "n": Int(1)}, Stats: &Stats{Exec: "pool", Impl: "c", RunUS: 5}},
		{ID: 0, Error: &Error{Code: InvalidArgument, Message: "bad"}},
		{ID: 2, Error: &Error{Code: Overloaded, Message: "full", RetryAfterMS: 10}},
		{ID: 3, Progress: &p},
	} {
		for _, bin := range []bool{false, true} {
			msg, _, err := EncodeReply(rep, bin)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(bin, msg)
		}
	}
	f.Fuzz(func(t *testing.T, bin bool, msg []byte) {
		rep, err := DecodeReply(bin, msg)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != InvalidArgument || rep != nil {
				t.Fatalf("error %v (%T), reply %+v", err, err, rep)
			}
			return
		}
		if rep.Progress != nil {
			q := min(max(*rep.Progress, 0), 1)
			rep.Progress = &q // the encoder clamps progress to [0, 1]
		}
		for _, form := range []bool{false, true} {
			enc, isBin, err := EncodeReply(rep, form)
			if err != nil {
				t.Fatalf("re-encoding (binary=%v) %+v: %v", form, rep, err)
			}
			got, err := DecodeReply(isBin, enc)
			if err != nil || !got.Equal(rep) {
				t.Fatalf("binary=%v: %v\n%+v\n%+v", form, err, got, rep)
			}
		}
	})
}

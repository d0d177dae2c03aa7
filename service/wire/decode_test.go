package wire

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/crunchsvc/crunch/service/tensor"
)

func decodeText(t *testing.T, msg string) *Request {
	t.Helper()
	req, err := DecodeRequest(false, []byte(msg))
	if err != nil {
		t.Fatalf("DecodeRequest(%s): %v", msg, err)
	}
	return req
}

func TestDecodeTextForms(t *testing.T) {
	req := decodeText(t, ` {"op":"gemm", "id": 1e3, "exec":"auto", "impl": null, "future_field": {"x": [1]},
		"args": {
			"a": {"dtype": "f64", "shape": [2, 2], "data": [1, 2.5, -3e2, 0], "nonfinite": false},
			"u": {"dtype": "u8", "shape": [3], "data": [0, 255, 1e2]},
			"i": {"dtype": "i64", "shape": [2], "data": [-9223372036854775808, 9223372036854775807]},
			"w": {"dtype": "u32", "shape": [2], "data": [4294967295, 7.0]},
			"z": {"dtype": "c128", "shape": [2], "data": [1, 2, 3, -4]},
			"h": {"dtype": "f32", "shape": [], "data": [0.1]},
			"nest": [[1, 2], [3, 4], [5, 6]],
			"flat": [1e3, -0.5],
			"none": [],
			"emptyrows": [[], []],
			"deep": [[[7]]],
			"n": 10, "s": "x", "b": true, "nul": null
		}} `)
	if req.ID != 1000 || req.Op != "gemm" || req.Exec != "auto" || req.Impl != "" || req.Binary {
		t.Fatalf("decoded %+v", req)
	}
	check := func(name string, want *tensor.Tensor) {
		t.Helper()
		got, err := req.Args.Tensor(name)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s = %v %v, want %v %v (%v)", name, got, got.Data, want, want.Data, err)
		}
	}
	check("a", tensor.FromFloat64([]int{2, 2}, []float64{1, 2.5, -300, 0}))
	check("u", tensor.FromUint8([]int{3}, []uint8{0, 255, 100}))
	check("i", tensor.FromInt64([]int{2}, []int64{math.MinInt64, math.MaxInt64}))
	check("w", tensor.FromUint32([]int{2}, []uint32{math.MaxUint32, 7}))
	check("z", tensor.FromComplex128([]int{2}, []complex128{1 + 2i, 3 - 4i}))
	check("h", tensor.FromFloat32([]int{}, []float32{0.1}))
	check("nest", tensor.FromFloat64([]int{3, 2}, []float64{1, 2, 3, 4, 5, 6}))
	check("flat", tensor.FromFloat64([]int{2}, []float64{1000, -0.5}))
	check("none", tensor.FromFloat64([]int{0}, nil))
	check("emptyrows", tensor.FromFloat64([]int{2, 0}, nil))
	check("deep", tensor.FromFloat64([]int{1, 1, 1}, []float64{7}))
	for _, name := range []string{"a", "nest", "z"} {
		x, _ := req.Args.Tensor(name)
		if uintptr(unsafe.Pointer(&x.Data[0]))%tensor.Alignment != 0 {
			t.Errorf("%s: text-decoded data is not 64-byte aligned", name)
		}
	}
	if n, err := req.Args.Int("n", 0); n != 10 || err != nil {
		t.Errorf("n = %d, %v", n, err)
	}
	if !req.Args["nul"].IsNull() || string(req.Args["s"].JSON) != `"x"` {
		t.Errorf("scalars: %s %s", req.Args["nul"].JSON, req.Args["s"].JSON)
	}
}

func TestDecodeMinimal(t *testing.T) {
	req := decodeText(t, `{"id":9,"op":"ping"}`)
	if req.Args == nil || len(req.Args) != 0 {
		t.Errorf("absent args decoded as %#v, want an empty Args", req.Args)
	}
	req = decodeText(t, `{"id":9,"op":"ping","args":null,"timeout_ms":0,"progress":false}`)
	if req.Args == nil || req.TimeoutMS != 0 || req.Progress {
		t.Errorf("decoded %+v", req)
	}
}

// Exec and impl names the codec does not know pass through both ways: the
// server answers a name it lacks with not_found, as it does an unknown op.
func TestExecAndImplNamesPassThrough(t *testing.T) {
	roundTripRequest(t, &Request{ID: 3, Op: "modsum", Exec: "gpu", Impl: "asm"})
}

func TestBinaryLayout(t *testing.T) {
	a := tensor.FromFloat64([]int{2, 2}, []float64{1, 2, 3, 4})
	b := tensor.FromFloat64([]int{2, 2}, []float64{5, 6, 7, 8})
	msg, err := EncodeRequest(&Request{ID: 7, Op: "gemm", Args: Args{"a": TensorValue(a), "b": TensorValue(b)}}, true)
	if err != nil {
		t.Fatal(err)
	}
	// The worked example of docs/PROTOCOL.md.
	const header = `{"id":7,"op":"gemm","args":{"a":{"dtype":"f64","shape":[2,2],"buffer":0},` +
		`"b":{"dtype":"f64","shape":[2,2],"buffer":1}},"buffers":[[192,32],[256,32]]}`
	if len(msg) != 288 || string(msg[:4]) != "CRN1" || binary.LittleEndian.Uint32(msg[4:]) != uint32(len(header)) ||
		string(msg[8:8+len(header)]) != header {
		t.Fatalf("binary message of %d bytes, header %q", len(msg), msg[8:8+binary.LittleEndian.Uint32(msg[4:])])
	}
	for _, c := range msg[8+len(header) : 192] {
		if c != 0 {
			t.Fatal("padding is not zero")
		}
	}
	if string(msg[192:224]) != string(a.Data) || string(msg[256:288]) != string(b.Data) {
		t.Error("buffers misplaced")
	}
	if len(header) != 149 {
		t.Errorf("header is %d bytes; update the worked example in docs/PROTOCOL.md", len(header))
	}
}

func TestBinaryOffsetsAligned(t *testing.T) {
	args := Args{}
	for i := range 50 { // enough buffers for the header to outgrow the first guess
		args[strings.Repeat("k", i+1)] = TensorValue(tensor.FromUint8([]int{i}, make([]uint8, i)))
	}
	msg, err := EncodeRequest(&Request{ID: 1, Op: "x", Args: args}, true)
	if err != nil {
		t.Fatal(err)
	}
	m, perr := parseMessage(true, msg)
	if perr != nil {
		t.Fatal(perr)
	}
	if err := m.buffers(); err != nil {
		t.Fatal(err)
	}
	if len(m.dec.bufs) != 50 {
		t.Fatalf("%d buffers", len(m.dec.bufs))
	}
	for _, sp := range m.dec.bufs {
		if sp.off%64 != 0 || sp.off < m.end {
			t.Errorf("buffer at %d (header ends at %d)", sp.off, m.end)
		}
	}
	roundTripRequest(t, &Request{ID: 1, Op: "x", Args: args})
}

func TestBinaryZeroCopy(t *testing.T) {
	x := tensor.FromFloat64([]int{3}, []float64{1, 2, 3})
	msg, _ := EncodeRequest(&Request{ID: 1, Op: "x", Args: Args{"x": TensorValue(x)}}, true)
	req, err := DecodeRequest(true, msg)
	if err != nil {
		t.Fatal(err)
	}
	got := req.Args["x"].Tensor
	start, end := uintptr(unsafe.Pointer(&msg[0])), uintptr(unsafe.Pointer(&msg[len(msg)-1]))
	if p := uintptr(unsafe.Pointer(&got.Data[0])); p < start || p > end {
		t.Error("an aligned buffer was copied")
	}
	if cap(got.Data) != len(got.Data) {
		t.Error("an aliased buffer's capacity reaches past it")
	}
}

// TestBinaryMisaligned decodes messages whose buffers, although at offsets
// that are multiples of 8, sit at addresses misaligned for their dtype.
func TestBinaryMisaligned(t *testing.T) {
	want := Args{
		"f64":  TensorValue(tensor.FromFloat64([]int{3}, []float64{1.5, -2, 3e100})),
		"c128": TensorValue(tensor.FromComplex128([]int{2}, []complex128{1 + 2i, -3i})),
		"i32":  TensorValue(tensor.FromInt32([]int{2}, []int32{-7, 9})),
		"u16":  TensorValue(tensor.FromUint16([]int{2}, []uint16{1, 65535})),
		"u8":   TensorValue(tensor.FromUint8([]int{3}, []uint8{1, 2, 3})),
	}
	msg, err := EncodeRequest(&Request{ID: 1, Op: "x", Args: want}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, shift := range []int{1, 2, 3, 4, 5, 6, 7} {
		big := tensor.AlignedBytes(len(msg) + 8)
		moved := big[shift : shift+len(msg)]
		copy(moved, msg)
		req, err := DecodeRequest(true, moved)
		if err != nil {
			t.Fatalf("shift %d: %v", shift, err)
		}
		for name, v := range want {
			got := req.Args[name].Tensor
			if !got.Equal(v.Tensor) {
				t.Errorf("shift %d: %s = %v, want %v", shift, name, got.Data, v.Tensor.Data)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("shift %d: %s: %v", shift, name, err)
			}
		}
		// Typed views work (and under -race, checkptr verifies them).
		if f := req.Args["f64"].Tensor.Float64(); f[2] != 3e100 {
			t.Errorf("shift %d: f64 view %v", shift, f)
		}
		if c := req.Args["c128"].Tensor.Complex128(); c[1] != -3i {
			t.Errorf("shift %d: c128 view %v", shift, c)
		}
		if u := req.Args["u8"].Tensor; uintptr(unsafe.Pointer(&u.Data[0])) < uintptr(unsafe.Pointer(&moved[0])) ||
			uintptr(unsafe.Pointer(&u.Data[0])) >= uintptr(unsafe.Pointer(&moved[0]))+uintptr(len(moved)) {
			t.Errorf("shift %d: u8 data was copied although bytes are always aligned", shift)
		}
	}
}

func TestBinaryInlineDataAndSharedBuffers(t *testing.T) {
	// A binary header may carry small tensors inline, and two tensors may
	// name one buffer.
	buf := tensor.FromFloat64([]int{2}, []float64{1, 2}).Data
	hdr := `{"id":3,"op":"x","args":{"a":{"dtype":"f64","shape":[2],"buffer":0},"b":{"dtype":"f64","shape":[1,2],"buffer":0},` +
		`"c":{"dtype":"i32","shape":[1],"data":[5]},"d":[[1]]},"buffers":[[256,16],[272,0]]}`
	req, err := DecodeRequest(true, frame(hdr, 272, map[int][]byte{256: buf}))
	if err != nil {
		t.Fatal(err)
	}
	if a := req.Args["a"].Tensor.Float64(); !slices.Equal(a, []float64{1, 2}) {
		t.Errorf("a = %v", a)
	}
	if b := req.Args["b"].Tensor; !slices.Equal(b.Shape, []int{1, 2}) {
		t.Errorf("b = %v", b)
	}
	if c := req.Args["c"].Tensor.Int32(); c[0] != 5 {
		t.Errorf("c = %v", c)
	}
	roundTripRequest(t, req)
}

func TestDecodeLargeText(t *testing.T) {
	msg := textRequest1M()
	req, err := DecodeRequest(false, msg)
	if err != nil {
		t.Fatal(err)
	}
	x := req.Args["x"].Tensor.Float64()
	if len(x) != 1_000_000 || x[999_999] != 999_999*0.25-1 {
		t.Errorf("decoded %d values, last %v", len(x), x[len(x)-1])
	}
}

// textRequest1M is a text request with a 1,000,000-element f64 tensor.
func textRequest1M() []byte {
	b := []byte(`{"id":1,"op":"stats","args":{"x":{"dtype":"f64","shape":[1000000],"data":[`)
	for i := range 1_000_000 {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, float64(i)*0.25-1, 64)
	}
	return append(b, "]}}}"...)
}

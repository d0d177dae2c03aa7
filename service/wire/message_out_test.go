package wire

import (
	"bytes"
	"math"
	"testing"

	"github.com/crunchsvc/crunch/service/tensor"
)

// TestMessageWriteTo: written out in parts, a message is byte for byte the
// assembled one, for either form and tensors of awkward sizes, and it
// decodes.
func TestMessageWriteTo(t *testing.T) {
	// Distinct contents: a buffer written at another's offset shows.
	a, big := make([]float64, 21), make([]int32, 100003)
	for i := range a {
		a[i] = float64(i) + 0.5
	}
	for i := range big {
		big[i] = int32(i * 7)
	}
	args := Args{
		"a":     TensorValue(tensor.FromFloat64([]int{3, 7}, a)),
		"b":     TensorValue(tensor.FromUint8([]int{5}, []uint8{1, 2, 3, 4, 5})),
		"empty": TensorValue(tensor.FromFloat32([]int{0}, nil)),
		"z":     TensorValue(tensor.FromComplex128([]int{1}, []complex128{complex(1, math.Inf(1))})),
		"big":   TensorValue(tensor.FromInt32([]int{100003}, big)),
		"k":     Int(7),
	}
	for _, binary := range []bool{true, false} {
		req := &Request{ID: 9, Op: "x", Args: args}
		if !binary {
			req.Args = Args{"k": Int(7), "s": TensorValue(tensor.FromFloat64([]int{2}, []float64{1, 2}))}
		}
		m, err := EncodeRequestMessage(req, binary)
		if err != nil {
			t.Fatal(err)
		}
		whole := m.Bytes()
		if m.Binary != binary {
			t.Fatalf("binary=%v: form %v", binary, m.Binary)
		}
		var out bytes.Buffer
		n, err := m.WriteTo(&out)
		if err != nil || n != int64(len(whole)) || !bytes.Equal(out.Bytes(), whole) {
			t.Fatalf("binary=%v: wrote %d of %d bytes, err %v, equal %v", binary, n, len(whole), err, bytes.Equal(out.Bytes(), whole))
		}
		got, err := DecodeRequest(binary, whole)
		if err != nil || len(got.Args) != len(req.Args) {
			t.Fatalf("binary=%v: decoded %v, %v", binary, got, err)
		}
		for name, v := range req.Args {
			if v.Tensor == nil {
				continue
			}
			g := got.Args[name].Tensor
			if g == nil || g.DType != v.Tensor.DType || !bytes.Equal(g.Data, v.Tensor.Data) || len(g.Shape) != len(v.Tensor.Shape) {
				t.Errorf("binary=%v: argument %q decoded as %+v", binary, name, g)
			}
		}
	}
}

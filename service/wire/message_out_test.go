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
	args := Args{
		"a":     TensorValue(tensor.FromFloat64([]int{3, 7}, make([]float64, 21))),
		"b":     TensorValue(tensor.FromUint8([]int{5}, []uint8{1, 2, 3, 4, 5})),
		"empty": TensorValue(tensor.FromFloat32([]int{0}, nil)),
		"z":     TensorValue(tensor.FromComplex128([]int{1}, []complex128{complex(1, math.Inf(1))})),
		"big":   TensorValue(tensor.FromInt32([]int{100003}, make([]int32, 100003))),
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
		if m.Binary != binary || m.Len() != len(whole) {
			t.Fatalf("binary=%v: form %v, Len %d, %d bytes assembled", binary, m.Binary, m.Len(), len(whole))
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
	}
}

package wire

import (
	"math/rand/v2"
	"testing"

	"github.com/crunchsvc/crunch/service/tensor"
)

// BenchmarkDecodeText1M decodes a text request holding 1,000,000 random
// f64 values written at full precision (about 20 MB).
func BenchmarkDecodeText1M(b *testing.B) {
	x := randomTensor(rand.New(rand.NewPCG(3, 3)), tensor.F64, 1_000_000)
	msg, err := EncodeRequest(&Request{ID: 1, Op: "stats", Args: Args{"x": TensorValue(x)}}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := DecodeRequest(false, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// binaryRequest8MiB is a binary request holding 1Mi f64 values (8 MiB).
func binaryRequest8MiB(b *testing.B) []byte {
	x := randomTensor(rand.New(rand.NewPCG(1, 1)), tensor.F64, 1<<20)
	msg, err := EncodeRequest(&Request{ID: 1, Op: "stats", Args: Args{"x": TensorValue(x)}}, true)
	if err != nil {
		b.Fatal(err)
	}
	return msg
}

func BenchmarkDecodeBinary8MiB(b *testing.B) {
	msg := binaryRequest8MiB(b)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := DecodeRequest(true, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBinary8MiBMisaligned measures the copy a misaligned
// message costs.
func BenchmarkDecodeBinary8MiBMisaligned(b *testing.B) {
	msg := binaryRequest8MiB(b)
	moved := tensor.AlignedBytes(len(msg) + 4)[4:]
	copy(moved, msg)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := DecodeRequest(true, moved); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeBinaryRequest8MiB(b *testing.B) {
	x := randomTensor(rand.New(rand.NewPCG(1, 1)), tensor.F64, 1<<20)
	req := &Request{ID: 1, Op: "stats", Args: Args{"x": TensorValue(x)}}
	b.SetBytes(int64(len(x.Data)))
	for b.Loop() {
		if _, err := EncodeRequest(req, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeTextReply1M(b *testing.B) {
	y := randomTensor(rand.New(rand.NewPCG(2, 2)), tensor.F64, 1_000_000)
	rep := &Reply{ID: 1, OK: true, Result: Result{"y": TensorValue(y)}, Stats: &Stats{Exec: "pool", Impl: "c"}}
	msg, _, _ := EncodeReply(rep, false)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, isBin, err := EncodeReply(rep, false); err != nil || isBin {
			b.Fatal(err)
		}
	}
}

package clientgen_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/kernels/clientgen"
)

var update = flag.Bool("update", false, "rewrite the clients' generated op methods from the definitions")

// TestGenerated: the clients' generated files are what the definitions
// say; -update rewrites them.
func TestGenerated(t *testing.T) {
	ops := kernels.Default().Ops()
	for _, f := range []struct {
		path string
		gen  func([]*kernels.Op) ([]byte, error)
	}{
		{clientgen.PythonPath, clientgen.Python},
		{clientgen.GoPath, clientgen.Go},
	} {
		want, err := f.gen(ops)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("..", "..", "..", f.path)
		got, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Equal(got, want) {
			continue
		}
		if !*update {
			t.Errorf("%s differs from the definitions; run %s", f.path, clientgen.Command)
			continue
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRefused: an op the clients cannot have a method for is an error, not
// a broken file.
func TestRefused(t *testing.T) {
	for name, op := range map[string]*kernels.Op{
		"required after optional": {Name: "late", Params: []kernels.Param{
			{Name: "x", Kind: kernels.KindInt, Default: int64(1)}, {Name: "y", Kind: kernels.KindInt, Required: true}}},
		"a Python keyword": {Name: "lam", Params: []kernels.Param{{Name: "lambda", Kind: kernels.KindInt, Required: true}}},
		"an option's name": {Name: "opt", Params: []kernels.Param{{Name: "timeout_ms", Kind: kernels.KindInt, Required: true}}},
		"a client method":  {Name: "close", Params: []kernels.Param{{Name: "x", Kind: kernels.KindInt, Required: true}}},
	} {
		if _, err := clientgen.Python([]*kernels.Op{op}); err == nil {
			t.Errorf("%s: Python accepted it", name)
		}
	}
	late := &kernels.Op{Name: "late", Params: []kernels.Param{
		{Name: "x", Kind: kernels.KindInt, Default: int64(1)}, {Name: "y", Kind: kernels.KindInt, Required: true}}}
	if _, err := clientgen.Go([]*kernels.Op{late}); err == nil {
		t.Error("Go accepted a required argument after an optional one")
	}
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"gemm": "Gemm", "fft": "FFT", "conv2d": "Conv2D", "trans_a": "TransA", "x_min": "XMin",
		"max_iter": "MaxIter", "n": "N", "ddof": "Ddof",
	} {
		if got := clientgen.GoName(in); got != want {
			t.Errorf("GoName(%q) = %q, want %q", in, got, want)
		}
	}
}

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/tensor/npy"
)

func TestBuildRequest(t *testing.T) {
	req, err := buildRequest("gemm", []string{"a=[[1,2],[3,4]]", "b=[[5],[6]]", "alpha=2", "trans_a=true", "mode=same"})
	if err != nil {
		t.Fatal(err)
	}
	a := req.Args["a"].Tensor
	if req.Op != "gemm" || a == nil || len(a.Shape) != 2 || a.Shape[0] != 2 || a.Float64()[3] != 4 {
		t.Fatalf("a = %+v", req.Args["a"])
	}
	if got, _ := req.Args.Float("alpha", 0); got != 2 {
		t.Errorf("alpha = %v", got)
	}
	if got, _ := req.Args.Bool("trans_a", false); !got {
		t.Error("trans_a lost")
	}
	if got, _ := req.Args.String("mode", ""); got != "same" {
		t.Errorf("a bare word is a string: got %q", got)
	}
	if req.ID != 0 {
		t.Errorf("id %d: the client numbers requests", req.ID)
	}
	for _, bad := range [][]string{{"novalue"}, {"=3"}, {"a=[[1,2],[3]]"}} {
		if _, err := buildRequest("gemm", bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// A value @PATH is the tensor in that .npy file; quoted as JSON, it is a
// string like any other.
func TestBuildRequestFileArgs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npy")
	x := tensor.FromComplex64([]int{2}, []complex64{1 + 2i, 3})
	if err := npy.WriteFile(path, x); err != nil {
		t.Fatal(err)
	}
	req, err := buildRequest("fft", []string{"x=@" + path, `tag="@not-a-file"`, "n=3"})
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Args["x"].Tensor; !got.Equal(x) {
		t.Errorf("x = %v, want the file's %v", got, x)
	}
	if got, _ := req.Args.String("tag", ""); got != "@not-a-file" {
		t.Errorf("tag = %q", got)
	}
	if got, _ := req.Args.Int("n", 0); got != 3 {
		t.Errorf("n = %d", got)
	}
	if _, err := buildRequest("fft", []string{"x=@" + path + ".missing"}); err == nil || !strings.Contains(err.Error(), "argument x") {
		t.Errorf("a missing file: %v", err)
	}
}

package main

import (
	"testing"
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

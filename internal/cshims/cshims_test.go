package cshims

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// cgo/shims.h is what Generate makes of include/crunch.h today: run
// `go generate ./cgo` after changing a kernel's signature.
func TestShimsAreCurrent(t *testing.T) {
	header, err := os.ReadFile("../../include/crunch.h")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(header)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../cgo/shims.h")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("cgo/shims.h is stale: run `go generate ./cgo`")
	}
	// Every kernel the Go binding calls has its shim.
	for _, k := range []string{"noop", "modsum", "stats_f64", "sort_into_u32", "gemm_f32", "solve_f64", "fft_f32", "mandelbrot", "conv2d_f64", "histogram_f32"} {
		if !bytes.Contains(want, []byte("crunch_go_"+k+"(crunch_go_shadow *shadow_, crunch_ctx *ctx")) {
			t.Errorf("no shim for crunch_%s", k)
		}
	}
	if bytes.Contains(want, []byte("crunch_go_ctx_")) {
		t.Error("a shim for a ctx setter")
	}
}

func TestGenerate(t *testing.T) {
	got, err := Generate([]byte(`
CRUNCH_API crunch_status crunch_ctx_set_isa(crunch_ctx *ctx, crunch_isa isa);
CRUNCH_API crunch_status crunch_conv2d_shape(crunch_conv_mode mode, size_t h);
CRUNCH_API crunch_status crunch_axpy(crunch_ctx *ctx, size_t n,
                                     double alpha, const double *x, double **y);
CRUNCH_API crunch_status crunch_scal(crunch_ctx* ctx, double alpha);`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    const double *x;\n    double **y;\n} crunch_go_axpy_args;",
		"call->status = crunch_axpy(a->ctx, a->n, a->alpha, a->x, a->y);",
		"static inline crunch_status crunch_go_axpy(crunch_go_shadow *shadow_, crunch_ctx *ctx, size_t n, double alpha, const double *x, double **y)",
		"        return crunch_axpy(ctx, n, alpha, x, y);",
		"crunch_go_axpy_args args_ = {{crunch_go_axpy_run, CRUNCH_OK}, ctx, n, alpha, x, y};",
		"static inline crunch_status crunch_go_scal(crunch_go_shadow *shadow_, crunch_ctx* ctx, double alpha)",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "set_isa") || strings.Contains(string(got), "conv2d_shape") {
		t.Errorf("a shim for a function that runs no kernel:\n%s", got)
	}
	for _, bad := range []string{
		"CRUNCH_API crunch_status crunch_f(crunch_ctx *ctx, void (*fn)(int));",
		"CRUNCH_API crunch_status crunch_f(crunch_ctx *ctx, double x[4]);",
		"CRUNCH_API crunch_status crunch_f(crunch_ctx *ctx, size_t args_);",
		"CRUNCH_API crunch_status crunch_f(crunch_ctx *ctx, size_t);",
		"no kernel here",
	} {
		if _, err := Generate([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

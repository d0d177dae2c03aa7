package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/tensor/npy"
)

// callRun runs `crunch call --addr ADDR args...` in dir and returns what
// it printed and how it exited.
type callRun func(args ...string) (stdout, stderr string, err error)

// startCall builds crunch, starts a server and returns a callRun against
// it in a fresh directory.
func startCall(t *testing.T) (callRun, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	srv := testserver.Start(ctx, t, bin, testserver.Small(), true)
	return func(args ...string) (string, string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "crunch"), append([]string{"call", "--addr", srv.Addr}, args...)...)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}, dir
}

// printedReply decodes the reply crunch call printed.
func printedReply(t *testing.T, stdout string) (result map[string]any, exec string) {
	t.Helper()
	var rep struct {
		OK     bool           `json:"ok"`
		Result map[string]any `json:"result"`
		Stats  struct {
			Exec string `json:"exec"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || !rep.OK {
		t.Fatalf("printed %q (%v), want a successful reply", stdout, err)
	}
	return rep.Result, rep.Stats.Exec
}

func writeNpy(t *testing.T, path string, x *tensor.Tensor) {
	t.Helper()
	if err := npy.WriteFile(path, x); err != nil {
		t.Fatal(err)
	}
}

// crunch call with .npy files in and out, against a real server: a tensor
// argument from a file, the one result into FILE.npy or each into DIR,
// other results printed, the flags as without files, and clear failures.
func TestCallWithNpyFiles(t *testing.T) {
	call, dir := startCall(t)
	writeNpy(t, filepath.Join(dir, "a.npy"), tensor.FromFloat64([]int{2, 3}, []float64{1, 2, 3, 4, 5, 6}))
	writeNpy(t, filepath.Join(dir, "b.npy"), tensor.FromFloat64([]int{3, 2}, []float64{7, 8, 9, 10, 11, 12}))
	s := make([]int32, 1000)
	f := make([]float32, len(s))
	for i := range s {
		s[i] = int32((i * 7919) % 1000)
		f[i] = float32(s[i])
	}
	writeNpy(t, filepath.Join(dir, "s.npy"), tensor.FromInt32([]int{len(s)}, s))
	writeNpy(t, filepath.Join(dir, "f.npy"), tensor.FromFloat32([]int{len(f)}, f))

	// The one tensor result into a file; --exec and --timeout as ever.
	stdout, stderr, err := call("gemm", "a=@a.npy", "b=@b.npy", "-o", "c.npy", "--exec", "pool", "--timeout", "30s")
	if err != nil {
		t.Fatalf("gemm: %v\n%s%s", err, stdout, stderr)
	}
	if result, exec := printedReply(t, stdout); result["c"] != "@c.npy" || exec != "pool" {
		t.Errorf("gemm printed %s", stdout)
	}
	c, err := npy.ReadFile(filepath.Join(dir, "c.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if want := tensor.FromFloat64([]int{2, 2}, []float64{58, 64, 139, 154}); !c.Equal(want) {
		t.Errorf("c.npy holds %v %v, want %v", c, c.Float64(), want.Float64())
	}
	if !strings.Contains(stderr, "wrote c.npy") {
		t.Errorf("stderr does not say what was written:\n%s", stderr)
	}

	// Each tensor result into a directory, created as needed.
	stdout, stderr, err = call("sort", "x=@s.npy", "-o", "out/sorted", "--exec", "subprocess")
	if err != nil {
		t.Fatalf("sort: %v\n%s%s", err, stdout, stderr)
	}
	if result, _ := printedReply(t, stdout); result["x"] != "@"+filepath.Join("out/sorted", "x.npy") {
		t.Errorf("sort printed %s", stdout)
	}
	sorted, err := npy.ReadFile(filepath.Join(dir, "out", "sorted", "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(s)); sorted.DType != tensor.I32 || !slices.Equal(sorted.Int32(), want) {
		t.Errorf("out/sorted/x.npy holds %v, not s sorted", sorted)
	}

	// Results that are not tensors are printed as ever.
	stdout, stderr, err = call("stats", "x=@f.npy", "-o", "out")
	if err != nil {
		t.Fatalf("stats: %v\n%s%s", err, stdout, stderr)
	}
	if result, _ := printedReply(t, stdout); result["count"] != 1000.0 || result["max"] != 999.0 {
		t.Errorf("stats printed %s", stdout)
	}

	// Failures say what is wrong and exit non-zero.
	os.WriteFile(filepath.Join(dir, "text.npy"), []byte("1,2,3\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"stats", "x=@f.npy", "-o", "one.npy"}, "0 tensor results"},
		{[]string{"sort", "x=@missing.npy"}, "missing.npy"},
		{[]string{"sort", "x=@text.npy"}, "not a .npy file"},
		{[]string{"gemm", "a=@a.npy", "b=@a.npy", "-o", "c2.npy"}, "invalid_argument"},
	} {
		stdout, stderr, err := call(c.args...)
		if err == nil || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("crunch call %s: %v, want a failure mentioning %q\n%s%s", strings.Join(c.args, " "), err, c.want, stdout, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "c2.npy")); err == nil {
		t.Error("a failed call wrote its -o file")
	}
}

// Arrays as NumPy writes them (Fortran order, big-endian) go in, and
// NumPy reads what comes out.
func TestCallWithNumPy(t *testing.T) {
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil || exec.Command(python, "-c", "import numpy").Run() != nil {
		t.Skip("SKIPPED: crunch call against NumPy's own files needs /usr/bin/python3 with numpy (apt-get install python3-numpy)")
	}
	call, dir := startCall(t)
	py := func(script string) string {
		cmd := exec.Command(python, "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		return string(out)
	}
	py(`
import numpy as np
rng = np.random.default_rng(1)
np.save("a.npy", np.asfortranarray(rng.standard_normal((40, 30))).astype(">f8"))
np.save("b.npy", rng.standard_normal((30, 20)))
np.save("x.npy", (rng.standard_normal(256) + 1j * rng.standard_normal(256)).astype(np.complex64))
`)
	for _, args := range [][]string{
		{"gemm", "a=@a.npy", "b=@b.npy", "-o", "c.npy"},
		{"fft", "x=@x.npy", "-o", "spectra"},
	} {
		if stdout, stderr, err := call(args...); err != nil {
			t.Fatalf("crunch call %s: %v\n%s%s", strings.Join(args, " "), err, stdout, stderr)
		}
	}
	out := py(`
import numpy as np
a, b, x = np.load("a.npy"), np.load("b.npy"), np.load("x.npy")
c, y = np.load("c.npy"), np.load("spectra/y.npy")
assert c.dtype == np.float64 and c.shape == (40, 20), (c.dtype, c.shape)
assert np.allclose(c, a @ b, rtol=1e-12, atol=1e-12)
assert y.dtype == np.complex64 and y.shape == (256,), (y.dtype, y.shape)
assert np.allclose(y, np.fft.fft(x), rtol=1e-4, atol=1e-3)
print("same as NumPy")
`)
	if !strings.Contains(out, "same as NumPy") {
		t.Errorf("python said %q", out)
	}
}

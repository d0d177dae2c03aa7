// Package python_test runs the Python client's own tests (the test_*.py
// files beside the crunch package) against a real crunch server, from go
// test, so that `make test` covers the client: it builds cmd/crunch, starts
// it on a free port, and runs the tests, and then the README's Python
// example, with a Python that has numpy and websockets (Debian's
// python3-numpy and python3-websockets). Without one, it skips, saying so.
package python_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/readme"
	"github.com/crunchsvc/crunch/internal/testserver"
)

// testModules are the Python client's test files, run from this directory
// so that they import the package in crunch/.
var testModules = []string{"test_wire", "test_crunch"}

func TestPythonClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	python, err := load.FindPython(ctx, "numpy", "websockets")
	if err != nil {
		t.Skipf("SKIPPED: the Python client's tests need a python3 with numpy and websockets "+
			"(apt-get install python3-numpy python3-websockets): %v", err)
	}
	srv := testserver.Start(ctx, t, t.TempDir(), testserver.Small(), true)
	cmd := exec.CommandContext(ctx, python, append([]string{"-m", "unittest", "-v"}, testModules...)...)
	cmd.Env = append(os.Environ(), "CRUNCH_ADDR="+srv.Addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -m unittest %v: %v\n%s\nserver log:\n%s", python, testModules, err, out, srv.Stderr())
	}
	t.Logf("%s", out)

	// The README's Python example, as printed there, against this server.
	example, err := readme.Block("**Python**", "```python")
	if err != nil {
		t.Fatal(err)
	}
	example = strings.ReplaceAll(example, `"127.0.0.1:8080"`, strconv.Quote(srv.Addr))
	cmd = exec.CommandContext(ctx, python, "-c", example)
	cmd.Env = append(os.Environ(), "PYTHONPATH=.")
	out, err = cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "deadline_exceeded" {
		t.Fatalf("the README's Python example: %v\n%s\n---\n%s", err, out, example)
	}
}

// Package python_test runs the Python client's own tests (the test_*.py
// files beside the crunch package) against a real crunch server, from go
// test, so that `make test` covers the client: it builds cmd/crunch, starts
// it on a free port and a Unix socket, and runs the tests (those of calls
// over TCP, then again over the Unix socket, where arrays go through shared
// memory), the README's Python examples, an
// install of the package into a fresh venv, offline, and mypy over the
// package where it is installed, with a Python that has numpy and
// websockets (Debian's python3-numpy and python3-websockets). Without one,
// it skips, saying so.
package python_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
	"github.com/crunchsvc/crunch/internal/readme"
	"github.com/crunchsvc/crunch/internal/testcert"
	"github.com/crunchsvc/crunch/internal/testserver"
)

// testModules are the Python client's test files, run from this directory
// so that they import the package in crunch/.
var testModules = []string{"test_wire", "test_packaging", "test_crunch", "test_blocking", "test_ops", "test_shm"}

// overUnix are the modules run a second time with CRUNCH_ADDR naming the
// server's Unix socket: every call of theirs then goes through shared
// memory where its arrays are large enough.
var overUnix = []string{"test_crunch", "test_blocking"}

func TestPythonClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	python, err := load.FindPython(ctx, "numpy", "websockets")
	if err != nil {
		t.Skipf("SKIPPED: the Python client's tests need a python3 with numpy and websockets "+
			"(apt-get install python3-numpy python3-websockets): %v", err)
	}
	// Socket paths are short (108 bytes): t.TempDir's can be too long.
	sockDir, err := os.MkdirTemp("", "crunch-py")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	unixAddr := "unix:" + filepath.Join(sockDir, "s")
	cfg := testserver.Small()
	cfg.Args = append(cfg.Args, "--unix", strings.TrimPrefix(unixAddr, "unix:"))
	srv := testserver.Start(ctx, t, t.TempDir(), cfg, true)

	unittest := func(t *testing.T, addr string, modules []string) {
		cmd := exec.CommandContext(ctx, python, append([]string{"-m", "unittest", "-v"}, modules...)...)
		cmd.Env = append(os.Environ(), "CRUNCH_ADDR="+addr, "CRUNCH_UNIX="+unixAddr)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s -m unittest %v: %v\n%s\nserver log:\n%s", python, modules, err, out, srv.Stderr())
		}
		t.Logf("%s", out)
	}
	t.Run("unittest", func(t *testing.T) { unittest(t, srv.Addr, testModules) })
	t.Run("unittest over unix", func(t *testing.T) { unittest(t, unixAddr, overUnix) })
	t.Run("token and TLS", func(t *testing.T) {
		// A server in this process, with TLS and a token: test_auth.py
		// connects with and without them.
		cert := testcert.New(t)
		certFile, _ := cert.Files(t, t.TempDir())
		addr := testserver.StartSecure(t, cert, "py-token")
		cmd := exec.CommandContext(ctx, python, "-m", "unittest", "-v", "test_auth")
		cmd.Env = append(os.Environ(), "CRUNCH_AUTH_ADDR="+addr, "CRUNCH_TOKEN=py-token", "CRUNCH_CAFILE="+certFile)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "skipped") {
			t.Fatalf("%s -m unittest test_auth: %v\n%s", python, err, out)
		}
		t.Logf("%s", out)
	})

	t.Run("readme", func(t *testing.T) {
		// The README's Python examples, as printed there, against this
		// server, with the package found through PYTHONPATH.
		for _, c := range []struct{ marker, want string }{
			{"**Python**", "True 262144"},
			{"**Python, asyncio**", "deadline_exceeded"},
			{"**Python, same machine**", "True True"},
		} {
			example, err := readme.Block(c.marker, "```python")
			if err != nil {
				t.Fatal(err)
			}
			example = strings.ReplaceAll(example, `"127.0.0.1:8080"`, strconv.Quote(srv.Addr))
			example = strings.ReplaceAll(example, `"unix:/tmp/crunch.sock"`, strconv.Quote(unixAddr))
			cmd := exec.CommandContext(ctx, python, "-c", example)
			cmd.Env = append(os.Environ(), "PYTHONPATH=.")
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != c.want {
				t.Fatalf("the README's example after %s: %v\n%s\n---\n%s", c.marker, err, out, example)
			}
		}
	})

	t.Run("install", func(t *testing.T) { testInstall(ctx, t, python, srv.Addr) })

	t.Run("types", func(t *testing.T) {
		// pyproject.toml's [tool.mypy] says what is checked.
		if exec.CommandContext(ctx, python, "-c", "import mypy").Run() != nil {
			t.Skipf("SKIPPED: checking the package's type hints needs mypy for %s "+
				"(apt-get install python3-mypy)", python)
		}
		if out, err := exec.CommandContext(ctx, python, "-m", "mypy").CombinedOutput(); err != nil {
			t.Fatalf("%s -m mypy: %v\n%s", python, err, out)
		}
	})
}

// installCheck runs with the venv's python, outside the source tree: it
// imports the installed crunch (argv[1] is where it must come from) and
// calls the server at $CRUNCH_ADDR through it, async and blocking.
const installCheck = `
import asyncio, os, sys, numpy as np, crunch
where = os.path.dirname(os.path.abspath(crunch.__file__))
assert where.startswith(os.path.abspath(sys.argv[1])), (where, sys.argv[1])
assert os.path.isfile(os.path.join(where, "py.typed")), "no py.typed"

async def main():
    async with crunch.connect(os.environ["CRUNCH_ADDR"]) as c:
        return await c.gemm(np.eye(2), np.full((2, 2), 3.0))

with crunch.Client(os.environ["CRUNCH_ADDR"]) as c:
    blocking = c.gemm(np.eye(2), np.full((2, 2), 3.0)).sum()
print(asyncio.run(main()).sum(), blocking, crunch.__version__)
`

// testInstall installs the package as clients/python/README.md says, into a
// fresh venv that sees the system's numpy and websockets, with pip's index
// switched off (so that a build needing anything from PyPI fails here as it
// would on a machine without PyPI), then runs installCheck with it; then
// the same for an editable install.
func testInstall(ctx context.Context, t *testing.T, python, addr string) {
	if out, err := exec.CommandContext(ctx, python, "-c", "import venv, ensurepip").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: the install test needs venv and pip for %s (apt-get install python3-venv): %v\n%s",
			python, err, out)
	}
	src, err := os.Getwd() // clients/python
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	venv := filepath.Join(dir, "venv")
	run := func(cwd string, env []string, argv ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = cwd
		cmd.Env = append(withoutPythonPath(os.Environ()), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		return string(out)
	}
	run(dir, nil, python, "-m", "venv", "--system-site-packages", venv)
	vpy := filepath.Join(venv, "bin", "python")
	for _, c := range []struct {
		name, from string
		pip        []string
	}{
		{"install", venv, []string{"install", "--no-index", src}},
		{"editable install", src, []string{"install", "--no-index", "-e", src}},
	} {
		run(dir, nil, append([]string{vpy, "-m", "pip"}, c.pip...)...)
		out := run(dir, []string{"CRUNCH_ADDR=" + addr}, vpy, "-c", installCheck, c.from)
		if want := "12.0 12.0 0.1.0"; strings.TrimSpace(out) != want {
			t.Fatalf("%s: the installed client printed %q, want %q", c.name, out, want)
		}
	}
}

// withoutPythonPath is env without PYTHONPATH, so that the venv's python
// finds only what is installed.
func withoutPythonPath(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PYTHONPATH=") {
			out = append(out, kv)
		}
	}
	return out
}

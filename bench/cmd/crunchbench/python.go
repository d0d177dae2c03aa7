package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crunchsvc/crunch/bench/load"
)

// pythonScript times large calls from Python beside NumPy in-process,
// relative to the module root (its docstring says what it measures).
const pythonScript = "clients/python/bench_crunch.py"

// pythonReport is what the python mode puts in the JSON: the script's
// table as it printed it.
type pythonReport struct {
	Command []string `json:"command"`
	Output  string   `json:"output"`
	Skipped string   `json:"skipped,omitempty"`
}

// runPython measures what a NumPy user on the server's machine sees: a
// crunch server with its Unix socket, and clients/python/bench_crunch.py
// calling it through shared memory and over TCP, each call beside NumPy
// doing the same in the script's own process.
func runPython(ctx context.Context, e *env) (any, error) {
	w := e.out
	fmt.Fprintf(w, "\n## From Python, beside NumPy\n\n")
	rep := &pythonReport{}
	python, err := load.FindPython(ctx, "numpy", "websockets")
	if err != nil {
		rep.Skipped = fmt.Sprintf("needs a python3 with numpy and websockets (apt-get install python3-numpy python3-websockets): %v", err)
		fmt.Fprintf(w, "Not measured: %s\n", rep.Skipped)
		return rep, nil
	}
	root, err := load.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "crunchbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "crunch.sock")
	srv, err := load.StartServer(ctx, e.serverConfig("--unix", sock, "--log-level=warn"))
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	reps := max(e.reps, 3)
	rep.Command = []string{python, pythonScript, "--addr", "unix:" + sock, "--addr", srv.Addr, "--reps", strconv.Itoa(reps)}
	e.status.set("python · NumPy beside crunch over the Unix socket and TCP, best of %d", reps)
	cmd := exec.CommandContext(ctx, python, append([]string{filepath.Join(root, pythonScript)}, rep.Command[2:]...)...)
	// NumPy's OpenBLAS at its best: on some processors this machine's
	// environment pins an older kernel type, which slows a current one.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") && !strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PYTHONPATH="+filepath.Join(root, "clients/python"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", pythonScript, err, stderr.String())
	}
	rep.Output = string(out)
	fmt.Fprintf(w, "`%s` against one crunch server (`%s`), each call the best of %d "+
		"round trips on a warm connection, NumPy timed right before it in the same process. "+
		"\"inputs in shm\": the arrays were allocated in shared memory up front (no copy at all). "+
		"The allowance is the call's kernel time (`run_us`) + 0.5 ms + one memcpy of its inputs.\n\n",
		strings.Join(rep.Command, " "), strings.Join(srv.Args, " "), reps)
	fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(rep.Output))
	return rep, nil
}

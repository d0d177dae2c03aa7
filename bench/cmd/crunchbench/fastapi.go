package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/crunchsvc/crunch/bench/load"
)

// fastapiScript is the FastAPI comparison server (bench/fastapi), relative to the module root.
const fastapiScript = "bench/fastapi/server.py"

// fastapiModules are the Python modules the FastAPI comparison server imports, and
// fastapiPackages the Debian packages that provide them.
var (
	fastapiModules  = []string{"fastapi", "uvicorn", "websockets"}
	fastapiPackages = "python3-fastapi python3-uvicorn python3-websockets"
)

// fastapiModes are the server's --mode values: modsum right in the async
// handler, through asyncio.to_thread, and through a ProcessPoolExecutor
// (with a worker per CPU, the server's default).
var fastapiModes = []string{"inline", "thread", "process"}

// fastapiSystems returns the FastAPI comparison server (bench/fastapi) in each of its modes, when
// this machine can run it (see bench/fastapi); none otherwise, with the
// reason.
func fastapiSystems(e *env) (systems []system, missing string) {
	// Looking takes a second or two (Python imports FastAPI); a minute is
	// ample on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	python, err := load.FindPython(ctx, fastapiModules...)
	if err != nil {
		return nil, fmt.Sprintf("the FastAPI comparison server (bench/fastapi) needs Debian's %s (make bench-deps): %v", fastapiPackages, err)
	}
	root, err := load.ModuleRoot(ctx)
	if err != nil {
		return nil, fmt.Sprintf("the FastAPI comparison server (bench/fastapi): %v", err)
	}
	script := filepath.Join(root, fastapiScript)
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Sprintf("the FastAPI comparison server (bench/fastapi): %v", err)
	}
	for _, mode := range fastapiModes {
		argv := []string{python, script, "--port", load.PortPlaceholder, "--mode", mode}
		systems = append(systems, system{
			Name: "fastapi " + mode,
			Ops:  []string{"modsum"},
			Start: func(ctx context.Context) (*load.Server, error) {
				return load.StartCommand(ctx, load.CommandConfig{Argv: argv})
			},
		})
	}
	return systems, ""
}

package load

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// PythonProbeScript is the Python probe, relative to the module's root.
const PythonProbeScript = "bench/load/pyprobe.py"

// PythonClientDir is the Python client package's directory (the one to put
// on PYTHONPATH), relative to the module's root.
const PythonClientDir = "clients/python"

// PythonProbe returns the spec of a probe process in Python that pings with
// the crunch package's AsyncClient.ping(), as Python users' programs do
// (pyprobe.py), named name. When no python3 can run it (no NumPy or
// websockets, say), the spec's NotRun says why. Like Build, it must run
// inside the crunch module.
func PythonProbe(ctx context.Context, name string) ProbeSpec {
	spec := ProbeSpec{Name: name}
	root, err := ModuleRoot(ctx)
	if err != nil {
		spec.NotRun = err.Error()
		return spec
	}
	script := filepath.Join(root, PythonProbeScript)
	if _, err := os.Stat(script); err != nil {
		spec.NotRun = err.Error()
		return spec
	}
	env := []string{"PYTHONPATH=" + filepath.Join(root, PythonClientDir)}
	py, err := FindPythonEnv(ctx, env, "numpy", "websockets", "crunch")
	if err != nil {
		spec.NotRun = err.Error()
		return spec
	}
	// -u: every report line reaches the parent at once.
	spec.Command = []string{py, "-u", script}
	spec.Env = env
	return spec
}

// String describes the spec's command for a report.
func (s ProbeSpec) String() string {
	switch {
	case s.NotRun != "":
		return fmt.Sprintf("%s: not run (%s)", s.Name, s.NotRun)
	case len(s.Command) == 0:
		return fmt.Sprintf("%s: in this process", s.Name)
	}
	return fmt.Sprintf("%s: %q", s.Name, s.Command)
}

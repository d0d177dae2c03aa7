package load

// The programs the benchmarks build and run: the go command, for the
// crunch binary and the module's root, and python3, for the Python
// probe and servers.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CrunchPackage is the import path of the crunch binary's main package.
const CrunchPackage = "github.com/crunchsvc/crunch/cmd/crunch"

// Build compiles the crunch binary into dir with `go build` and returns its
// path. It must run inside the crunch module (any directory of it): the go
// command finds the module from the working directory.
func Build(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "crunch")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, CrunchPackage)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", CrunchPackage, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// ModuleRoot returns the root directory of the crunch module, where its
// go.mod is. Like Build, it must run inside the module.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	// Outside any module the go command says /dev/null (or nothing).
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the crunch module: run from the repository")
	}
	return filepath.Dir(gomod), nil
}

// pythonCandidates are the interpreters FindPython tries, in order.
// Debian's python3-* packages install into /usr/bin/python3's path only,
// which a pyenv or virtualenv python3 earlier on the PATH does not see.
var pythonCandidates = []string{"python3", "/usr/bin/python3"}

// FindPython returns the path of the first Python 3 interpreter, among
// python3 on the PATH and /usr/bin/python3, that can import every one of
// modules. Its error says what each candidate lacked.
func FindPython(ctx context.Context, modules ...string) (string, error) {
	return FindPythonEnv(ctx, nil, modules...)
}

// FindPythonEnv is FindPython with env (KEY=value pairs, such as a
// PYTHONPATH) added to the environment of the interpreters it tries.
func FindPythonEnv(ctx context.Context, env []string, modules ...string) (string, error) {
	var why []string
	seen := map[string]bool{}
	for _, name := range pythonCandidates {
		path, err := exec.LookPath(name)
		if err != nil {
			why = append(why, name+": not found")
			continue
		}
		if seen[path] {
			continue
		}
		seen[path] = true
		// sys is always there: it keeps the statement valid without modules.
		cmd := exec.CommandContext(ctx, path, "-c", "import "+strings.Join(append([]string{"sys"}, modules...), ", "))
		if len(env) > 0 {
			cmd.Env = append(os.Environ(), env...)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			why = append(why, fmt.Sprintf("%s: %s", path, lastLine(out.String(), err)))
			continue
		}
		return path, nil
	}
	return "", fmt.Errorf("no python3 can import %s (%s)", strings.Join(modules, ", "), strings.Join(why, "; "))
}

// lastLine is the last line of a command's output (Python's exception),
// or err when it wrote nothing.
func lastLine(out string, err error) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return err.Error()
	}
	return out[strings.LastIndexByte(out, '\n')+1:]
}

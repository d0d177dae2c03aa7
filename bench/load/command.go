package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// PortPlaceholder is replaced by the chosen port in a CommandConfig's Argv.
const PortPlaceholder = "{port}"

// CommandConfig says how to launch a server that is not crunch: any program
// that serves GET /healthz and the protocol's /v1/ws on 127.0.0.1 at the
// port its command line names, such as the FastAPI comparison server (bench/fastapi)
// (bench/fastapi).
type CommandConfig struct {
	// Argv is the command line, program first. Every occurrence of
	// PortPlaceholder in it is replaced by the port chosen, e.g.
	// {"python3", "server.py", "--port", "{port}"}.
	Argv []string
	// Dir is the working directory ("": ours).
	Dir string
	// Env holds KEY=value pairs added to our environment.
	Env []string
	// StartTimeout, Grace and SampleEvery are as in ServerConfig.
	StartTimeout time.Duration
	Grace        time.Duration
	SampleEvery  time.Duration
}

// StartCommand launches cfg's command on a free port of 127.0.0.1 and
// returns once GET /healthz answers 200. The Server it returns is sampled
// and stopped as a crunch server is: its children (e.g. a process pool's
// workers) count as its workers, and Stop sends SIGTERM, then kills the
// whole process group after the grace period.
func StartCommand(ctx context.Context, cfg CommandConfig) (*Server, error) {
	if len(cfg.Argv) == 0 {
		return nil, errors.New("load: StartCommand: empty command line")
	}
	if !strings.Contains(strings.Join(cfg.Argv, " "), PortPlaceholder) {
		return nil, fmt.Errorf("load: StartCommand: %q does not name the port (%s)", cfg.Argv, PortPlaceholder)
	}
	return start(ctx, launch{
		argv: func(_ string, port int) []string {
			argv := make([]string, len(cfg.Argv))
			for i, a := range cfg.Argv {
				argv[i] = strings.ReplaceAll(a, PortPlaceholder, strconv.Itoa(port))
			}
			return argv
		},
		dir:          cfg.Dir,
		env:          cfg.Env,
		startTimeout: cfg.StartTimeout,
		grace:        cfg.Grace,
		sampleEvery:  cfg.SampleEvery,
	})
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

package load

import (
	"context"
	"errors"
	"fmt"
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

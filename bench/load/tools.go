package load

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

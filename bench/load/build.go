package load

import (
	"bytes"
	"context"
	"fmt"
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

// Package readme finds the code examples of the project's README.md, so
// that tests can run them exactly as a reader sees them.
package readme

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Path is the absolute path of the project's README.md.
func Path() string {
	_, file, _, _ := runtime.Caller(0) // this file: internal/readme/readme.go
	return filepath.Join(filepath.Dir(file), "..", "..", "README.md")
}

// Block returns the first code block opened by fence (such as "```sh")
// after the paragraph of README.md that starts with marker (such as
// "**Python**"), without its fences.
func Block(marker, fence string) (string, error) {
	text, err := os.ReadFile(Path())
	if err != nil {
		return "", fmt.Errorf("readme: %w", err)
	}
	_, after, ok := strings.Cut(string(text), "\n"+marker)
	if ok {
		_, after, ok = strings.Cut(after, fence+"\n")
	}
	block, _, closed := strings.Cut(after, "\n```")
	if !ok || !closed {
		return "", fmt.Errorf("readme: no %s block after %q in README.md", fence, marker)
	}
	return block, nil
}

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/crunchsvc/crunch/service/tensor/npy"
	"github.com/crunchsvc/crunch/service/wire"
)

// fileArg returns the path of an argument value of the form @PATH, which
// names a .npy file to send as a tensor.
func fileArg(v string) (path string, ok bool) {
	path, ok = strings.CutPrefix(v, "@")
	return path, ok && path != ""
}

// isFile reports whether an argument value names a .npy file.
func isFile(v string) bool {
	_, ok := fileArg(v)
	return ok
}

// saveResults writes the tensor results of a successful rep as .npy files,
// as -o asks: out ending in .npy (and not a directory) takes the one
// tensor result; any other out is a directory, created if need be, that
// takes each tensor result as NAME.npy. In rep, each tensor written
// becomes the string "@PATH", so that what is printed says where it went.
// A line per file goes to log.
func saveResults(rep *wire.Reply, out string, log io.Writer) error {
	if !rep.OK {
		return nil
	}
	var names, others []string
	for name, v := range rep.Result {
		if v.Tensor != nil {
			names = append(names, name)
		} else {
			others = append(others, name)
		}
	}
	slices.Sort(names)
	st, err := os.Stat(out)
	isDir := err == nil && st.IsDir()
	paths := map[string]string{}
	switch {
	case !isDir && strings.HasSuffix(out, ".npy"):
		if len(names) != 1 {
			return fmt.Errorf("-o %s: the reply holds %d tensor results (%s; other results: %s): -o FILE.npy takes exactly one, -o DIR each as DIR/NAME.npy",
				out, len(names), listOrNone(names), listOrNone(others))
		}
		paths[names[0]] = out
	default:
		if err := os.MkdirAll(out, 0o755); err != nil {
			return fmt.Errorf("-o: %w", err)
		}
		for _, name := range names {
			if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
				return fmt.Errorf("-o %s: result name %q cannot be a file name", out, name)
			}
			paths[name] = filepath.Join(out, name+".npy")
		}
	}
	for _, name := range names {
		t, path := rep.Result[name].Tensor, paths[name]
		if err := npy.WriteFile(path, t); err != nil {
			return err
		}
		fmt.Fprintf(log, "wrote %s: %s, %s\n", path, name, t)
		rep.Result[name] = wire.String("@" + path)
	}
	return nil
}

// listOrNone joins names for a message, or says "none".
func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

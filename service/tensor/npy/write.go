package npy

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/crunchsvc/crunch/service/tensor"
)

// Write writes t to w as a .npy array: version 1.0 (2.0 if the header
// needs it), little-endian, C order, as np.save writes it.
func Write(w io.Writer, t *tensor.Tensor) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if _, err := w.Write(formatHeader(t.DType, t.Shape)); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if _, err := w.Write(t.Data); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// WriteFile writes t to a .npy file at path, replacing what was there.
func WriteFile(path string, t *tensor.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	err = Write(bw, t)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	return nil
}

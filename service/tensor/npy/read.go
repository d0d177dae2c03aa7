package npy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/crunchsvc/crunch/service/tensor"
)

// chunk is how much data Read allocates ahead of what has arrived, so
// that a header promising more than its stream holds costs no more memory
// than the stream does.
const chunk = 16 << 20

// ReadFile reads the .npy file at path. Its size must be what its header
// says, which is checked before the data is allocated.
func ReadFile(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	t, err := read(bufio.NewReaderSize(f, 1<<16), st.Size())
	if err != nil {
		return nil, fmt.Errorf("npy: %s: %w", path, err)
	}
	return t, nil
}

// Read reads one .npy array from r, which must end with it. Big-endian
// data is converted to little-endian and Fortran-order data to C order.
func Read(r io.Reader) (*tensor.Tensor, error) {
	t, err := read(r, -1)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	return t, nil
}

// read reads an array from r, whose size in bytes is size, or -1 when it
// is not known.
func read(r io.Reader, size int64) (*tensor.Tensor, error) {
	h, hlen, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	n, err := tensor.ByteSize(h.dtype, h.shape)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if size >= 0 && size != hlen+int64(n) {
		return nil, fmt.Errorf("the file holds %d bytes of data after its %d-byte header, but a %s array of shape %s takes %d",
			size-hlen, hlen, h.dtype, tensor.FormatShape(h.shape), n)
	}
	data, err := readData(r, n, size >= 0)
	if err != nil {
		return nil, fmt.Errorf("%s array of shape %s: %w", h.dtype, tensor.FormatShape(h.shape), err)
	}
	if err := atEnd(r); err != nil {
		return nil, fmt.Errorf("%s array of shape %s: %w", h.dtype, tensor.FormatShape(h.shape), err)
	}
	if h.swap {
		swapBytes(data, h.dtype)
	}
	if h.fortran && len(h.shape) > 1 {
		data = fortranToC(data, h.shape, h.dtype.Size())
	}
	return &tensor.Tensor{DType: h.dtype, Shape: h.shape, Data: data}, nil
}

// readHeader reads the magic, the version and the header dict, and returns
// the dict's meaning and the header's length in bytes.
func readHeader(r io.Reader) (*header, int64, error) {
	var pre [len(magic) + 2]byte
	n, err := io.ReadFull(r, pre[:])
	if start := pre[:min(n, len(magic))]; !strings.HasPrefix(magic, string(start)) {
		return nil, 0, fmt.Errorf("not a .npy file: it starts with %q, not \"\\x93NUMPY\"", start)
	}
	if err != nil {
		if n == 0 {
			return nil, 0, errors.New("empty: not a .npy file")
		}
		return nil, 0, fmt.Errorf("%d bytes: too short for a .npy file", n)
	}
	major, minor := pre[len(magic)], pre[len(magic)+1]
	var lenBytes []byte
	switch major {
	case 1:
		lenBytes = make([]byte, 2)
	case 2, 3:
		lenBytes = make([]byte, 4)
	default:
		return nil, 0, fmt.Errorf(".npy format version %d.%d: this reader knows 1.0, 2.0 and 3.0", major, minor)
	}
	if _, err := io.ReadFull(r, lenBytes); err != nil {
		return nil, 0, errors.New("truncated in the header's length")
	}
	var hlen uint32
	if major == 1 {
		hlen = uint32(binary.LittleEndian.Uint16(lenBytes))
	} else {
		hlen = binary.LittleEndian.Uint32(lenBytes)
	}
	if hlen > maxHeader {
		return nil, 0, fmt.Errorf("header of %d bytes: more than the %d a .npy header needs", hlen, maxHeader)
	}
	dict := make([]byte, hlen)
	if n, err := io.ReadFull(r, dict); err != nil {
		return nil, 0, fmt.Errorf("truncated in the header: %d of its %d bytes", n, hlen)
	}
	if major == 3 && !utf8.Valid(dict) {
		return nil, 0, errors.New("header is not UTF-8")
	}
	if major < 3 {
		for _, c := range dict {
			if c >= 0x80 {
				return nil, 0, fmt.Errorf("header of a version %d.%d file is not ASCII", major, minor)
			}
		}
	}
	h, err := parseDict(string(dict))
	if err != nil {
		return nil, 0, fmt.Errorf("header: %w", err)
	}
	return h, int64(len(pre)+len(lenBytes)) + int64(hlen), nil
}

// readData reads n bytes of data into 64-byte aligned memory. sized says
// that the stream is known to hold them, so they are allocated at once;
// otherwise they are allocated as they arrive, chunk by chunk.
func readData(r io.Reader, n int, sized bool) ([]byte, error) {
	if sized || n <= chunk {
		data := tensor.AlignedBytes(n)
		if got, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("truncated: %d of its %d bytes of data", got, n)
		}
		return data, nil
	}
	var parts [][]byte
	got := 0
	for got < n {
		p := make([]byte, min(chunk, n-got))
		k, err := io.ReadFull(r, p)
		got += k
		if err != nil {
			return nil, fmt.Errorf("truncated: %d of its %d bytes of data", got, n)
		}
		parts = append(parts, p)
	}
	data := tensor.AlignedBytes(n)
	off := 0
	for _, p := range parts {
		off += copy(data[off:], p)
	}
	return data, nil
}

// atEnd checks that r holds nothing more.
func atEnd(r io.Reader) error {
	var b [1]byte
	for {
		k, err := r.Read(b[:])
		if k > 0 {
			return errors.New("more bytes follow the data than its header accounts for")
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// swapBytes turns big-endian elements of dt into little-endian ones, in
// place; a complex element is two floats, each swapped.
func swapBytes(data []byte, dt tensor.DType) {
	w := dt.Size()
	if dt.IsComplex() {
		w /= 2
	}
	for i := 0; i+w <= len(data); i += w {
		e := data[i : i+w]
		for a, b := 0, w-1; a < b; a, b = a+1, b-1 {
			e[a], e[b] = e[b], e[a]
		}
	}
}

// fortranToC returns the elements of size bytes in data, stored in
// column-major order for shape, in row-major order. It walks data in its
// own order, the first index fastest, and keeps the destination offset up
// to date with the row-major strides.
func fortranToC(data []byte, shape []int, size int) []byte {
	out := tensor.AlignedBytes(len(data))
	if len(data) == 0 {
		return out
	}
	k := len(shape)
	stride := make([]int, k) // row-major stride of each dimension, in bytes
	stride[k-1] = size
	for j := k - 2; j >= 0; j-- {
		stride[j] = stride[j+1] * shape[j+1]
	}
	idx := make([]int, k)
	dst := 0
	for src := 0; src < len(data); src += size {
		copy(out[dst:dst+size], data[src:src+size])
		for j := 0; j < k; j++ {
			if idx[j]++; idx[j] < shape[j] {
				dst += stride[j]
				break
			}
			idx[j] = 0
			dst -= (shape[j] - 1) * stride[j]
		}
	}
	return out
}

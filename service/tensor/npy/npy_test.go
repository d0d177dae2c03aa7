package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/tensor"
)

// randomTensor returns a dt tensor of shape with random bytes as data.
func randomTensor(t *testing.T, r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(dt, shape...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x.Data {
		x.Data[i] = byte(r.Uint32())
	}
	return x
}

func roundTrip(t *testing.T, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, x); err != nil {
		t.Fatalf("Write %v: %v", x, err)
	}
	if hlen := len(formatHeader(x.DType, x.Shape)); hlen%64 != 0 || b.Len() != hlen+len(x.Data) {
		t.Fatalf("%v: header of %d bytes, file of %d", x, hlen, b.Len())
	}
	y, err := Read(&b)
	if err != nil {
		t.Fatalf("Read %v: %v", x, err)
	}
	if err := y.Validate(); err != nil {
		t.Fatalf("Read %v: %v", x, err)
	}
	return y
}

// Every dtype and shape, 0-d and empty included, comes back bit for bit,
// through a stream and through a file.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for _, dt := range tensor.DTypes() {
		for _, shape := range [][]int{{}, {0}, {1}, {7}, {3, 4}, {2, 0, 3}, {2, 3, 4, 5}, slices.Repeat([]int{1}, tensor.MaxDims)} {
			x := randomTensor(t, r, dt, shape...)
			if y := roundTrip(t, x); !y.Equal(x) {
				t.Errorf("%v came back as %v", x, y)
			}
			path := filepath.Join(dir, "x.npy")
			if err := WriteFile(path, x); err != nil {
				t.Fatal(err)
			}
			if y, err := ReadFile(path); err != nil || !y.Equal(x) {
				t.Errorf("%v through a file: %v, %v", x, y, err)
			}
		}
	}
}

// Arrays larger than a chunk: Read allocates them as they arrive.
func TestRoundTripLarge(t *testing.T) {
	x := randomTensor(t, rand.New(rand.NewPCG(3, 4)), tensor.F64, 3, chunk/8+5)
	if y := roundTrip(t, x); !y.Equal(x) {
		t.Errorf("a %v array did not come back whole", x)
	}
}

// The header is NumPy's, byte for byte: np.save(f, np.zeros((2, 3))).
func TestHeaderAsNumPyWritesIt(t *testing.T) {
	want := "\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }" +
		strings.Repeat(" ", 58) + "\n"
	if got := string(formatHeader(tensor.F64, []int{2, 3})); got != want {
		t.Errorf("header\n%q\nwant\n%q", got, want)
	}
	for dt, descr := range map[tensor.DType]string{tensor.U8: "'|u1'", tensor.C128: "'<c16'", tensor.U16: "'<u2'"} {
		if h := string(formatHeader(dt, []int{5})); !strings.Contains(h, descr) || !strings.Contains(h, "(5,)") {
			t.Errorf("%v: header %q", dt, h)
		}
	}
	if h := string(formatHeader(tensor.I32, nil)); !strings.Contains(h, "'shape': ()") {
		t.Errorf("0-d header %q", h)
	}
}

// file assembles a .npy file: version major.0, the dict (padded to a
// multiple of 64 bytes as NumPy pads it) and the data.
func file(major byte, dict string, data []byte) []byte {
	lenLen := 2
	if major > 1 {
		lenLen = 4
	}
	pre := len(magic) + 2 + lenLen
	n := (pre+len(dict)+1+63)/64*64 - pre
	b := append([]byte(magic), major, 0)
	if lenLen == 2 {
		b = binary.LittleEndian.AppendUint16(b, uint16(n))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	}
	b = append(b, dict...)
	b = append(b, bytes.Repeat([]byte(" "), n-len(dict)-1)...)
	b = append(b, '\n')
	return append(b, data...)
}

// Big-endian data is converted, Fortran order is copied into C order, and
// versions 2.0 and 3.0 read as 1.0 does.
func TestReadOrders(t *testing.T) {
	be := binary.BigEndian.AppendUint32(nil, 0x01020304)
	be = binary.BigEndian.AppendUint32(be, 0xa0b0c0d0)
	c64 := binary.BigEndian.AppendUint32(nil, 0x3f800000) // 1 + 2i in big-endian float32s
	c64 = binary.BigEndian.AppendUint32(c64, 0x40000000)
	// [[1, 2, 3], [4, 5, 6]] as int64, stored column by column.
	var fortran []byte
	for _, v := range []int64{1, 4, 2, 5, 3, 6} {
		fortran = binary.LittleEndian.AppendUint64(fortran, uint64(v))
	}
	// a 2×3×2 int32 array with element (i, j, k) = 100i + 10j + k, column-major
	var f3 []byte
	for k := range 2 {
		for j := range 3 {
			for i := range 2 {
				f3 = binary.LittleEndian.AppendUint32(f3, uint32(100*i+10*j+k))
			}
		}
	}
	for _, c := range []struct {
		name string
		file []byte
		want *tensor.Tensor
	}{
		{"big-endian u32", file(1, "{'descr': '>u4', 'fortran_order': False, 'shape': (2,), }", be),
			tensor.FromUint32([]int{2}, []uint32{0x01020304, 0xa0b0c0d0})},
		{"big-endian c64", file(1, "{'descr': '>c8', 'fortran_order': False, 'shape': (), }", c64),
			tensor.FromComplex64([]int{}, []complex64{1 + 2i})},
		{"Fortran order", file(1, "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", fortran),
			tensor.FromInt64([]int{2, 3}, []int64{1, 2, 3, 4, 5, 6})},
		{"Fortran order, 3-d", file(1, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 2), }", f3),
			tensor.FromInt32([]int{2, 3, 2}, []int32{0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121})},
		{"Fortran order, 1-d", file(1, "{'descr': '<i8', 'fortran_order': True, 'shape': (6,), }", fortran),
			tensor.FromInt64([]int{6}, []int64{1, 4, 2, 5, 3, 6})},
		{"version 2.0", file(2, "{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", be),
			tensor.FromUint32([]int{2}, []uint32{0x04030201, 0xd0c0b0a0})},
		{"version 3.0, keys in another order, Python 2 longs", file(3, "{'shape': (2L,), 'fortran_order': False, 'descr': '<u4'}", be),
			tensor.FromUint32([]int{2}, []uint32{0x04030201, 0xd0c0b0a0})},
	} {
		got, err := Read(bytes.NewReader(c.file))
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%s: %v %v, %v; want %v %v", c.name, got, got.Data, err, c.want, c.want.Data)
		}
	}
}

// Every file that is not a .npy array of a dtype crunch has is refused,
// saying why.
func TestReadBadFiles(t *testing.T) {
	f64 := func(shape string) string {
		return "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }"
	}
	good := file(1, f64("(2,)"), make([]byte, 16))
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"short", []byte("\x93NU"), "too short"},
		{"bad magic", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), "not a .npy file"},
		{"future version", append([]byte(magic), 4, 0, 10, 0), "version 4.0"},
		{"truncated length", append([]byte(magic), 2, 0, 10), "header's length"},
		{"truncated header", good[:40], "truncated in the header"},
		{"truncated data", good[:len(good)-3], "truncated: 13 of its 16 bytes"},
		{"header says more", file(1, f64("(3,)"), make([]byte, 16)), "truncated: 16 of its 24 bytes"},
		{"header says less", file(1, f64("(1,)"), make([]byte, 16)), "more bytes follow"},
		{"absurd shape", file(1, f64("(4611686018427387904, 4611686018427387904)"), nil), "overflows"},
		{"huge shape, no data", file(1, f64("(1000000000000,)"), nil), "truncated: 0 of its 8000000000000 bytes"},
		{"dimension beyond int", file(1, f64("(99999999999999999999,)"), nil), "too large"},
		{"negative dimension", file(1, f64("(-1,)"), nil), "non-negative"},
		{"65 dimensions", file(1, f64("("+strings.Repeat("1, ", 65)+")"), make([]byte, 8)), "more than 64"},
		{"int16", file(1, "{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }", make([]byte, 2)), `dtype "<i2" is not one crunch supports`},
		{"bool", file(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }", make([]byte, 1)), `"|b1"`},
		{"objects", file(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)), `"|O"`},
		{"structured", file(1, "{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)), "structured"},
		{"no byte order", file(1, "{'descr': '|f8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)), "need a byte order"},
		{"no shape", file(1, "{'descr': '<f8', 'fortran_order': False, }", nil), `no "shape"`},
		{"extra key", file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'x': 1}", make([]byte, 8)), `unknown key "x"`},
		{"key twice", file(1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': ()}", make([]byte, 8)), "twice"},
		{"not a dict", file(1, "[1, 2]", nil), "a dict"},
		{"bad bool", file(1, "{'descr': '<f8', 'fortran_order': 0, 'shape': ()}", make([]byte, 8)), "True or False"},
		{"unclosed", file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,", nil), "ends where"},
		{"not ASCII", file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'é': 1}", nil), "not ASCII"},
		{"header over 64 KiB", append(append([]byte(magic), 2, 0), binary.LittleEndian.AppendUint32(nil, 1<<20)...), "more than"},
	} {
		_, err := Read(bytes.NewReader(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "npy: ") {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

// ReadFile checks the file's size against its header before it allocates
// the data, and names the file.
func TestReadFileSize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lies.npy")
	if err := os.WriteFile(path, file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", make([]byte, 16)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "holds 16 bytes of data") {
		t.Errorf("a header that lies about the size: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.npy")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

// Write refuses a tensor that breaks its invariants.
func TestWriteInvalid(t *testing.T) {
	bad := &tensor.Tensor{DType: tensor.F64, Shape: []int{3}, Data: make([]byte, 8)}
	if err := Write(&bytes.Buffer{}, bad); err == nil || !strings.HasPrefix(err.Error(), "npy: ") {
		t.Errorf("Write of a short tensor: %v", err)
	}
}

package npy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/tensor"
)

// numpyNames maps crunch's dtypes to NumPy's.
var numpyNames = map[tensor.DType]string{
	tensor.U8: "uint8", tensor.U16: "uint16", tensor.U32: "uint32", tensor.I32: "int32", tensor.I64: "int64",
	tensor.F32: "float32", tensor.F64: "float64", tensor.C64: "complex64", tensor.C128: "complex128",
}

// numpyPython returns a Python that imports NumPy, or skips the test.
func numpyPython(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(name); err == nil && exec.Command(path, "-c", "import numpy").Run() == nil {
			return path
		}
	}
	t.Skip("SKIPPED: the tests against NumPy itself need python3 with numpy (apt-get install python3-numpy)")
	return ""
}

// runPython runs script with args and returns its standard output.
func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command(numpyPython(t), append([]string{"-c", script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// writeArrays writes arrays with NumPy into the directory argv[1]: for each,
// NAME.npy and NAME.raw (its elements little-endian in C order), and a line
// of JSON on stdout: {"name", "dtype" (NumPy's name), "shape"}.
const writeArrays = `
import json, os, sys
import numpy as np
from numpy.lib import format as fmt

out = sys.argv[1]
rng = np.random.default_rng(7)

def values(dtype, shape):
    dt = np.dtype(dtype)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)

def emit(name, a, version=None):
    path = os.path.join(out, name + ".npy")
    if version is None:
        np.save(path, a)
    else:
        with open(path, "wb") as f:
            fmt.write_array(f, a, version=version)
    le = a.astype(a.dtype.newbyteorder("<"))
    with open(os.path.join(out, name + ".raw"), "wb") as f:
        f.write(le.tobytes(order="C"))
    print(json.dumps({"name": name, "dtype": le.dtype.name, "shape": list(a.shape)}))

for dt in ["uint8", "uint16", "uint32", "int32", "int64", "float32", "float64", "complex64", "complex128"]:
    emit(dt, values(dt, (3, 4)))
    emit(dt + "-0d", values(dt, ()))
    emit(dt + "-empty", values(dt, (2, 0, 3)))
    emit(dt + "-fortran", np.asfortranarray(values(dt, (3, 4, 5))))
    if np.dtype(dt).itemsize > 1:
        emit(dt + "-big-endian", values(dt, (5, 2)).astype(np.dtype(dt).newbyteorder(">")))
emit("big-endian-fortran", np.asfortranarray(values(">f8", (4, 3))))
emit("strided", values("float64", (6, 8))[::2, 1::3])
emit("version-2", values("float32", (7,)), version=(2, 0))
emit("version-3", values("complex64", (2, 2)), version=(3, 0))
emit("large", values("float64", (2000, 1500)))
`

// The arrays NumPy writes read back bit for bit: every dtype crunch has,
// 0-d, empty and large arrays, Fortran order, big-endian, versions 2.0
// and 3.0.
func TestReadsWhatNumPyWrites(t *testing.T) {
	dir := t.TempDir()
	out := runPython(t, writeArrays, dir)
	byNumPy := map[string]tensor.DType{}
	for dt, name := range numpyNames {
		byNumPy[name] = dt
	}
	n := 0
	for line := range strings.Lines(out) {
		var c struct {
			Name, DType string
			Shape       []int
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		n++
		raw, err := os.ReadFile(filepath.Join(dir, c.Name+".raw"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, c.Name+".npy")
		got, err := ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if got.DType != byNumPy[c.DType] || !slices.Equal(got.Shape, c.Shape) || !bytes.Equal(got.Data, raw) {
			t.Errorf("%s: read %v, want %s %v and NumPy's bytes", c.Name, got, c.DType, c.Shape)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if streamed, err := Read(bufio.NewReader(f)); err != nil || !streamed.Equal(got) {
			t.Errorf("%s through Read: %v, %v", c.Name, streamed, err)
		}
		f.Close()
	}
	if n < 9*5 {
		t.Fatalf("NumPy wrote %d arrays:\n%s", n, out)
	}
}

// checkArrays loads every NAME.npy in argv[1] with np.load and compares it
// with NAME.json ({"dtype", "shape"}) and NAME.raw; it prints "ok NAME".
const checkArrays = `
import glob, json, os, sys
import numpy as np

for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.npy"))):
    name = path[:-4]
    want = json.load(open(name + ".json"))
    a = np.load(path)
    assert a.dtype == np.dtype(want["dtype"]).newbyteorder("<"), (path, a.dtype)
    assert list(a.shape) == want["shape"], (path, a.shape)
    assert a.flags.c_contiguous, path
    assert a.tobytes() == open(name + ".raw", "rb").read(), path
    print("ok", os.path.basename(name))
`

// NumPy reads what Write writes: every dtype, 0-d, empty and large arrays.
func TestNumPyReadsWhatWeWrite(t *testing.T) {
	numpyPython(t)
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	var names []string
	for _, dt := range tensor.DTypes() {
		for i, shape := range [][]int{{}, {0}, {5}, {3, 4}, {2, 0, 3}, {2, 3, 4}} {
			if dt == tensor.F64 && i == 0 {
				shape = []int{1500, 1700} // large: 20 MB
			}
			x := randomTensor(t, r, dt, shape...) // NaNs among them: compared as bytes
			name := dt.String() + "-" + strings.Trim(strings.ReplaceAll(tensor.FormatShape(shape), ",", "x"), "[]")
			base := filepath.Join(dir, name)
			if err := WriteFile(base+".npy", x); err != nil {
				t.Fatal(err)
			}
			meta, _ := json.Marshal(map[string]any{"dtype": numpyNames[dt], "shape": shape})
			if err := os.WriteFile(base+".json", meta, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(base+".raw", x.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
	}
	out := runPython(t, checkArrays, dir)
	for _, name := range names {
		if !strings.Contains(out, "ok "+name+"\n") {
			t.Errorf("NumPy did not load %s back:\n%s", name, out)
		}
	}
}

// writeBad writes into argv[1] arrays NumPy has and crunch does not, and a
// truncated file, each NAME.npy.
const writeBad = `
import os, sys
import numpy as np
d = sys.argv[1]
def save(name, a):
    np.save(os.path.join(d, name + ".npy"), a, allow_pickle=True)
save("int16", np.arange(4, dtype=np.int16))
save("int8", np.arange(4, dtype=np.int8))
save("uint64", np.arange(4, dtype=np.uint64))
save("float16", np.arange(4, dtype=np.float16))
save("bool", np.array([True, False]))
save("unicode", np.array(["abc"]))
save("datetime", np.array(["2026-01-01"], dtype="datetime64[D]"))
save("object", np.array([{"a": 1}], dtype=object))
save("structured", np.zeros(3, dtype=[("x", "<f8"), ("y", "<i4")]))
save("truncated", np.arange(100.0))
path = os.path.join(d, "truncated.npy")
data = open(path, "rb").read()
open(path, "wb").write(data[:-5])
`

// Files NumPy writes in dtypes crunch lacks, and a truncated one, are
// refused with an error naming the problem.
func TestRefusesWhatCrunchLacks(t *testing.T) {
	dir := t.TempDir()
	runPython(t, writeBad, dir)
	for name, want := range map[string]string{
		"int16": `"<i2"`, "int8": `"|i1"`, "uint64": `"<u8"`, "float16": `"<f2"`, "bool": `"|b1"`,
		"unicode": `"<U3"`, "datetime": `"<M8[D]"`, "object": `"|O"`, "structured": "structured",
		"truncated": "holds 795 bytes of data",
	} {
		_, err := ReadFile(filepath.Join(dir, name+".npy"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error mentioning %s", name, err, want)
		}
	}
}

package executor

import (
	"context"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// hugeMappings counts process pid's anonymous mappings of size bytes
// advised to use transparent huge pages (VmFlags "hg" in /proc/PID/smaps),
// as the C library maps its large work buffers; -1 if it cannot be read.
func hugeMappings(pid int, size int64) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		return -1
	}
	n, anon, sized := 0, false, false
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4:
			anon, sized = len(f) == 5, false // a mapping's first line: no path, no [name]
		case anon && len(f) == 3 && f[0] == "Size:":
			kb, err := strconv.ParseInt(f[1], 10, 64)
			sized = err == nil && kb<<10 == size
		case sized && len(f) > 0 && f[0] == "VmFlags:" && slices.Contains(f[1:], "hg"):
			n++
		}
	}
	return n
}

// A worker without a job for workerIdleRelease gives back the work
// buffers the C library keeps between calls: a real fft of 2^21 values
// keeps the mapping of its 16 MiB of work rows (a complex transform of
// 2^20) for its next call, which an idle worker unmaps.
func TestSubprocessIdleWorkerReleasesWorkBuffers(t *testing.T) {
	s, _ := newSub(t, SubprocessConfig{Workers: 1})
	pid := s.pids()[0]
	x, _ := tensor.New(tensor.F64, 1, 1<<21)
	for i := range x.Float64() {
		x.Float64()[i] = math.Sin(float64(i) * 0.001)
	}
	job := testJob(t, "fft", wire.Args{"x": wire.TensorValue(x)}, kernels.ImplC)
	if _, err := s.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	// The work rows: 16 MiB advised to use huge pages (native/bigbuf.c).
	const rows = 16 << 20
	kept := hugeMappings(pid, rows)
	if kept <= 0 {
		t.Skipf("no mapping of 16 MiB advised to use huge pages in the worker after the fft (%d): the library kept no work buffer here", kept)
	}
	testutil.WaitFor(t, 10*workerIdleRelease, "the idle worker's work buffers unmapped", func() bool {
		return hugeMappings(pid, rows) < kept
	})
}

package kernels_test

import (
	"errors"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestMandelbrotCancelAndProgress: a finished call reports every pixel
// done; a cancelled Ctx stops both implementations before they start; and
// a call whose pixels would each iterate 2^31 times (seconds) stops soon
// after a cancel, in vector chunks and in the scalar tail alike.
func TestMandelbrotCancelAndProgress(t *testing.T) {
	progressThenCancel(t, "mandelbrot", mandelbrotArgs(13, 7, -2, 1, -1, 1, 100), 13*7)
	op := lookup(t, "mandelbrot")
	for _, w := range []int{1, 3, 67} { // 67: two AVX-512 chunks, a vector, a tail
		huge, err := op.Prepare(mandelbrotArgs(w, 2, -0.1, 0.1, -0.1, 0.1, 1<<31))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range runPaths(op) {
			c := p.ctx()
			timer := time.AfterFunc(20*time.Millisecond, c.Cancel)
			start := time.Now()
			_, err := huge.Run(c, p.impl)
			took := time.Since(start)
			timer.Stop()
			if !errors.Is(err, cgo.ErrCanceled) || took > time.Second {
				t.Errorf("%s width %d: %v after %v", p, w, err, took)
			}
			if done, total, _ := c.Progress(); done != 0 || total != int64(2*w) {
				t.Errorf("%s width %d: progress %d/%d", p, w, done, total)
			}
		}
	}
}

// TestMandelbrotGoMatchesC: the same counts from Go and from C's best path
// over a grid crossing the whole set's boundary at a fine scale.
func TestMandelbrotGoMatchesC(t *testing.T) {
	const w, h, mi = 320, 240, 2000
	goCounts := make([]uint32, w*h)
	cCounts := make([]uint32, w*h)
	if err := kernels.MandelbrotGo(nil, w, h, -0.7463, -0.7413, 0.1102, 0.1152, mi, goCounts); err != nil {
		t.Fatal(err)
	}
	if err := cgo.Mandelbrot(nil, w, h, -0.7463, -0.7413, 0.1102, 0.1152, mi, cCounts); err != nil {
		t.Fatal(err)
	}
	for i := range goCounts {
		if goCounts[i] != cCounts[i] {
			t.Fatalf("pixel %d: Go %d, C %d", i, goCounts[i], cCounts[i])
		}
	}
}

func mandelbrotArgs(w, h int, xMin, xMax, yMin, yMax float64, maxIter int64) wire.Args {
	return wire.Args{"width": wire.Int(int64(w)), "height": wire.Int(int64(h)),
		"x_min": wire.Float(xMin), "x_max": wire.Float(xMax),
		"y_min": wire.Float(yMin), "y_max": wire.Float(yMax), "max_iter": wire.Int(maxIter)}
}

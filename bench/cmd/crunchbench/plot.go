package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/crunchsvc/crunch/bench/load"
)

// The e2e plots of each workload, named e2e-KIND-WORKLOAD.svg.
const (
	plotThroughput = "throughput" // req/s against K, a line per system
	plotLatency    = "latency"    // p50 and p99 against K, per system
	plotProbe      = "probe"      // the probe's ping p99 against K, per system
)

// series is one line of a plot: a median per K with its min–max.
type series struct {
	name   string
	dashed bool
	pts    plotter.XYs
	errs   plotter.YErrors
}

// errPoints feeds plotter.NewYErrorBars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// writeE2EPlots writes three SVG plots per workload of r into dir and
// returns their paths. A plot with no figure to show is left out.
func writeE2EPlots(dir string, r *e2eReport) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("-plots: %w", err)
	}
	var files []string
	for _, wl := range r.Workloads {
		throughput := func(s e2eSummary) load.Spread { return s.ReqPerS }
		p50 := func(s e2eSummary) load.Spread { return s.P50Ms }
		p99 := func(s e2eSummary) load.Spread { return s.P99Ms }
		ping99 := func(s e2eSummary) load.Spread { return s.PingP99Ms }
		var tput, lat, probe []series
		for _, sys := range r.Systems {
			tput = append(tput, seriesOf(r, sys, wl.Key, sys, false, throughput))
			lat = append(lat, seriesOf(r, sys, wl.Key, sys+" p50", false, p50), seriesOf(r, sys, wl.Key, sys+" p99", true, p99))
			probe = append(probe, seriesOf(r, sys, wl.Key, sys, false, ping99))
		}
		for _, f := range []struct {
			kind, title, ylabel string
			lines               []series
			perSystem           int // lines per system, which share a colour
		}{
			{plotThroughput, "throughput", "calls per second", tput, 1},
			{plotLatency, "latency p50 (solid) and p99 (dashed)", "round trip, ms", lat, 2},
			{plotProbe, "probe ping p99 on an idle connection", "round trip, ms", probe, 1},
		} {
			path := filepath.Join(dir, fmt.Sprintf("e2e-%s-%s.svg", f.kind, wl.Key))
			ok, err := savePlot(path, fmt.Sprintf("%s: %s", wl.Desc, f.title), f.ylabel, f.lines, f.perSystem)
			if err != nil {
				return files, fmt.Errorf("plot %s: %w", path, err)
			}
			if ok {
				files = append(files, path)
			}
		}
	}
	return files, nil
}

// seriesOf is figure fig of system sys on workload wl against K, over the
// cases with results. Figures that are not positive are left out: the
// axes are logarithmic.
func seriesOf(r *e2eReport, sys, wl, name string, dashed bool, fig func(e2eSummary) load.Spread) series {
	s := series{name: name, dashed: dashed}
	for _, k := range r.Settings.Conns {
		c := r.find(sys, wl, k)
		if c == nil {
			continue
		}
		v := fig(c.Summary)
		if v.Median <= 0 {
			continue
		}
		s.pts = append(s.pts, plotter.XY{X: float64(k), Y: v.Median})
		// The bar stops short of zero, which a log axis cannot show.
		s.errs = append(s.errs, struct{ Low, High float64 }{
			Low: min(v.Median-v.Min, v.Median*0.999), High: v.Max - v.Median,
		})
	}
	return s
}

// savePlot draws lines on log–log axes, K on x, and saves them to path
// (the format follows the extension). It reports false, writing nothing,
// when no line has a point.
func savePlot(path, title, ylabel string, lines []series, perSystem int) (bool, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "connections (K)"
	p.Y.Label.Text = ylabel
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	var ticks plot.ConstantTicks
	seen := map[float64]bool{}
	entries := 0
	for i, s := range lines {
		if len(s.pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(s.pts)
		if err != nil {
			return false, err
		}
		col := plotutil.Color(i / perSystem)
		l.Color, sc.Color, sc.Shape = col, col, plotutil.Shape(i/perSystem)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		eb, err := plotter.NewYErrorBars(errPoints{s.pts, s.errs})
		if err != nil {
			return false, err
		}
		eb.Color = col
		p.Add(l, sc, eb)
		if i%perSystem == 0 { // one entry per system: the title says what the dashes are
			p.Legend.Add(legendName(s.name, perSystem), l, sc)
			entries++
		}
		for j, pt := range s.pts {
			xlo, xhi = min(xlo, pt.X), max(xhi, pt.X)
			ylo, yhi = min(ylo, pt.Y-s.errs[j].Low), max(yhi, pt.Y+s.errs[j].High)
			if !seen[pt.X] {
				seen[pt.X] = true
				ticks = append(ticks, plot.Tick{Value: pt.X, Label: strconv.FormatFloat(pt.X, 'g', -1, 64)})
			}
		}
	}
	if math.IsInf(xlo, 1) {
		return false, nil
	}
	p.X.Tick.Marker = ticks
	// Margins on both log axes, which also keep a single point's range
	// from being empty; the legend sits above the highest point.
	p.X.Min, p.X.Max = xlo/1.5, xhi*1.5
	p.Y.Min, p.Y.Max = ylo/1.3, yhi*legendRoom(entries, ylo/1.3, yhi)
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return false, err
	}
	return true, nil
}

// legendName is a line's name in the legend: the system's alone when
// several lines share it (the latency plot's p50 and p99).
func legendName(name string, perSystem int) string {
	if perSystem > 1 {
		name = name[:strings.LastIndexByte(name, ' ')]
	}
	return name
}

// legendRoom is the factor above the highest point (yhi) that a log axis
// starting at ylo needs so that a legend of n entries in its top corner
// stays clear of the lines: about 13 points an entry of the ~250 points
// the plotting area has in height.
func legendRoom(n int, ylo, yhi float64) float64 {
	frac := min(float64(n)*13/250, 0.6)
	span := max(math.Log(yhi/ylo), 1)
	return math.Exp(max(frac/(1-frac)*span, math.Log(1.3)))
}

// plotKindOf splits a plot's file name e2e-KIND-WORKLOAD.svg.
func plotKindOf(path string) (kind, workload string) {
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	name = strings.TrimPrefix(name, "e2e-")
	kind, workload, _ = strings.Cut(name, "-")
	return kind, workload
}

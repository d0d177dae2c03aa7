package load

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ten := make([]time.Duration, 10) // 1 … 10
	for i := range ten {
		ten[i] = time.Duration(i + 1)
	}
	thousand := make([]time.Duration, 1000) // 1 … 1000
	for i := range thousand {
		thousand[i] = time.Duration(i + 1)
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p0", []time.Duration{7}, 0, 7},
		{"one p50", []time.Duration{7}, 50, 7},
		{"one p100", []time.Duration{7}, 100, 7},
		{"ten p0 is min", ten, 0, 1},
		{"ten p10", ten, 10, 1},
		{"ten p11", ten, 11, 2},
		{"ten p50", ten, 50, 5},
		{"ten p51", ten, 51, 6},
		{"ten p99", ten, 99, 10},
		{"ten p100 is max", ten, 100, 10},
		{"thousand p50", thousand, 50, 500},
		{"thousand p99", thousand, 99, 990},
		{"thousand p99.9", thousand, 99.9, 999},
		{"above 100 clamps", ten, 150, 10},
		{"below 0 clamps", ten, -5, 1},
	}
	for _, c := range cases {
		if got := Percentile(c.sorted, c.p); got != c.want {
			t.Errorf("%s: Percentile(p=%v) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	ds := []time.Duration{4 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	got := Summarize(ds)
	want := Latency{Count: 4, MeanMs: 2.5, P50Ms: 2, P99Ms: 4, P999Ms: 4, MaxMs: 4}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if ds[0] != 4*time.Millisecond {
		t.Errorf("Summarize sorted its argument in place")
	}
	if (Summarize(nil) != Latency{}) {
		t.Errorf("Summarize(nil) is not zero")
	}
}

func TestSpreadOf(t *testing.T) {
	cases := []struct {
		xs   []float64
		want Spread
	}{
		{nil, Spread{}},
		{[]float64{3}, Spread{3, 3, 3, 1}},
		{[]float64{5, 1, 3}, Spread{3, 1, 5, 3}},
		{[]float64{4, 1, 3, 2}, Spread{2.5, 1, 4, 4}},
	}
	for _, c := range cases {
		if got := SpreadOf(c.xs); got != c.want {
			t.Errorf("SpreadOf(%v) = %+v, want %+v", c.xs, got, c.want)
		}
	}
}

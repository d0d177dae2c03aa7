package profile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func all(string) bool { return true }

func TestBuiltin(t *testing.T) {
	p := Builtin(1e5)
	for _, c := range []struct {
		work float64
		want string
	}{{0, "direct"}, {99999, "direct"}, {1e5, "pool"}, {1e12, "pool"}} {
		if got := p.Choose("gemm", c.work, all); got != c.want {
			t.Errorf("work %v: %s, want %s", c.work, got, c.want)
		}
	}
}

func TestBuildChoosesFastestAndCapsDirect(t *testing.T) {
	ms := []Measurement{
		{"gemm", 4096, "direct", 3}, {"gemm", 4096, "pool", 5}, {"gemm", 4096, "subprocess", 40},
		{"gemm", 1 << 24, "direct", 300}, {"gemm", 1 << 24, "pool", 320}, {"gemm", 1 << 24, "subprocess", 400},
		{"gemm", 1 << 30, "direct", 20000}, {"gemm", 1 << 30, "pool", 21000}, {"gemm", 1 << 30, "subprocess", 20500},
		{"modsum", 1e3, "direct", 1}, {"modsum", 1e3, "pool", 2},
		{"modsum", 1e6, "direct", 40}, {"modsum", 1e6, "pool", 45},
	}
	p := Build(ms, 200*time.Microsecond, 1e5)
	want := map[string][]Rule{
		// direct is fastest at 2^24 too, but runs longer than the cap.
		"gemm": {{BelowWork: 262144, Exec: "direct"}, {BelowWork: 1 << 27, Exec: "pool"}, {Exec: "subprocess"}},
		// direct wins the largest size (40 us for 1e6): it keeps calls up
		// to where it would take 200 us, the rest go to the next best.
		"modsum": {{BelowWork: 5e6, Exec: "direct"}, {Exec: "pool"}},
	}
	if !reflect.DeepEqual(p.Ops, want) {
		t.Fatalf("rules %+v, want %+v", p.Ops, want)
	}
	for _, c := range []struct {
		op   string
		work float64
		want string
	}{
		{"gemm", 1, "direct"}, {"gemm", 262143, "direct"}, {"gemm", 262144, "pool"},
		{"gemm", 1 << 27, "subprocess"}, {"gemm", 1e15, "subprocess"},
		{"modsum", 4.9e6, "direct"}, {"modsum", 1e12, "pool"}, // beyond what was measured
		{"fft", 10, "direct"}, {"fft", 1e9, "pool"}, // not measured: built-in rules
	} {
		if got := p.Choose(c.op, c.work, all); got != c.want {
			t.Errorf("%s work %v: %s, want %s", c.op, c.work, got, c.want)
		}
	}
	// A choice the server lacks falls back to the pool.
	noSub := func(name string) bool { return name != "subprocess" }
	if got := p.Choose("gemm", 1e15, noSub); got != "pool" {
		t.Errorf("without subprocess: %s, want pool", got)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	p := Build([]Measurement{{"gemm", 10, "pool", 1}}, time.Millisecond, 5)
	p.Host, p.Created = "box", "2026-11-28T12:00:00Z"
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.Source != path || q.Host != "box" || !reflect.DeepEqual(q.Ops, p.Ops) || !reflect.DeepEqual(q.Default, p.Default) {
		t.Fatalf("loaded %+v, saved %+v", q, p)
	}
}

func TestLoadRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not json":        `{`,
		"wrong format":    `{"format":"other","default":[{"exec":"pool"}]}`,
		"no default":      `{"format":"crunch-exec-profile/1"}`,
		"unknown exec":    `{"format":"crunch-exec-profile/1","default":[{"exec":"gpu"}]}`,
		"catch-all first": `{"format":"crunch-exec-profile/1","default":[{"exec":"pool"},{"below_work":5,"exec":"direct"}]}`,
		"not increasing": `{"format":"crunch-exec-profile/1","default":[{"exec":"pool"}],` +
			`"ops":{"gemm":[{"below_work":9,"exec":"direct"},{"below_work":3,"exec":"pool"}]}}`,
		"negative": `{"format":"crunch-exec-profile/1","default":[{"below_work":-1,"exec":"direct"},{"exec":"pool"}]}`,
	} {
		path := filepath.Join(t.TempDir(), "p.json")
		os.WriteFile(path, []byte(body), 0o644)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming the file", name, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing file loaded")
	}
}

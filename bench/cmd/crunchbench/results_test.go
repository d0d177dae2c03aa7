package main

import (
	"path/filepath"
	"testing"
	"time"
)

func TestResultName(t *testing.T) {
	day := time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)
	for host, want := range map[string]string{
		"build-7": "build-7-2026-11-28", "node1.example.com": "node1-2026-11-28",
		"we ird/name": "weirdname-2026-11-28", "": "host-2026-11-28",
	} {
		if got := resultName(host, day); got != want {
			t.Errorf("resultName(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestPlanResults(t *testing.T) {
	dir := t.TempDir()
	defer func(r, j, k, th, p, pl string) {
		*resultsDir, *jsonOut, *kernelsOut, *threadsOut, *profileOut, *plotsDir = r, j, k, th, p, pl
	}(*resultsDir, *jsonOut, *kernelsOut, *threadsOut, *profileOut, *plotsDir)
	*resultsDir, *jsonOut, *kernelsOut, *threadsOut, *profileOut, *plotsDir = dir, "", "", "", "/elsewhere/p.json", ""
	f, err := planResults("h", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "h-2026-01-02")
	if f.Report != base+".md" || *jsonOut != base+".json" || *kernelsOut != base+"-go-bench.txt" || f.Plots != base+"-plots" ||
		*threadsOut != base+"-go-bench-threads.txt" {
		t.Errorf("planned %+v (json %s, kernels %s, threads %s)", f, *jsonOut, *kernelsOut, *threadsOut)
	}
	if *profileOut != "/elsewhere/p.json" || f.Prof != "/elsewhere/p.json" {
		t.Errorf("an explicit -profile-out was overridden: %s", *profileOut)
	}
}

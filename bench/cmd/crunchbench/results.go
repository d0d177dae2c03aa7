package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// resultsDir, when set, makes a run file its outputs under one name per
// host and date: NAME.md (the report), NAME.json (every raw figure),
// NAME-go-bench.txt (the kernels mode's raw output),
// NAME-go-bench-threads.txt (the threads mode's), NAME-plots/ (the
// plots) and profile.json (the exec profile), unless their own flags say
// otherwise.
var resultsDir = flag.String("results", "", "write the report, JSON, raw benchmark output, plots and profile into this directory as HOST-DATE.*")

// resultFiles are the paths a run writes, after -results.
type resultFiles struct {
	Report     string // the Markdown report, also printed on stdout
	JSON       string
	GoTxt      string
	ThreadsTxt string // the threads mode's raw output
	Plots      string
	Prof       string
}

// planResults fills in the output flags left empty from -results: the
// explicit flags win.
func planResults(host string, now time.Time) (resultFiles, error) {
	var f resultFiles
	if *resultsDir == "" {
		return f, nil
	}
	if err := os.MkdirAll(*resultsDir, 0o755); err != nil {
		return f, fmt.Errorf("-results: %w", err)
	}
	base := filepath.Join(*resultsDir, resultName(host, now))
	f = resultFiles{Report: base + ".md", JSON: base + ".json", GoTxt: base + "-go-bench.txt", ThreadsTxt: base + "-go-bench-threads.txt",
		Plots: base + "-plots", Prof: filepath.Join(*resultsDir, "profile.json")}
	setDefault := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	setDefault(jsonOut, f.JSON)
	setDefault(kernelsOut, f.GoTxt)
	setDefault(threadsOut, f.ThreadsTxt)
	setDefault(profileOut, f.Prof)
	setDefault(plotsDir, f.Plots)
	f.JSON, f.GoTxt, f.ThreadsTxt, f.Prof, f.Plots = *jsonOut, *kernelsOut, *threadsOut, *profileOut, *plotsDir
	return f, nil
}

// resultName is HOST-YYYY-MM-DD, the host name cut at its first dot and
// stripped of characters that do not belong in a file name.
func resultName(host string, now time.Time) string {
	host, _, _ = strings.Cut(host, ".")
	host = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return -1
	}, host)
	if host == "" {
		host = "host"
	}
	return host + "-" + now.UTC().Format("2006-01-02")
}

// teeReport sends the report to stdout and, with -results, to its file;
// close finishes the file.
func teeReport(path string) (w io.Writer, close func() error, err error) {
	if path == "" {
		return os.Stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("-results: %w", err)
	}
	return io.MultiWriter(os.Stdout, f), f.Close, nil
}

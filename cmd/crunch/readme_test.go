package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/readme"
	"github.com/crunchsvc/crunch/internal/testserver"
)

// errorCode finds a protocol error code named in a README comment.
var errorCode = regexp.MustCompile(`\b[a-z]+_[a-z_]+\b`)

// TestReadmeCommandLine runs the README's command-line examples as printed
// (from a directory holding bin/crunch, with $CRUNCH_ADDR naming a fresh
// server): a shown reply must match in ok and result, a comment naming an
// error code must see it, and any other line must succeed.
func TestReadmeCommandLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	block, err := readme.Block("**The command line**", "```sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv := testserver.Start(ctx, t, filepath.Join(dir, "bin"), testserver.Small(), true)

	lines := strings.Split(block, "\n")
	ran := 0
	for i, line := range lines {
		command, ok := strings.CutPrefix(line, "$ ")
		if !ok {
			continue
		}
		ran++
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CRUNCH_ADDR="+srv.Addr)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output() // the reply; the round trip and progress go to stderr
		_, comment, _ := strings.Cut(command, "#")
		switch {
		case i+1 < len(lines) && lines[i+1] != "" && !strings.HasPrefix(lines[i+1], "$ "):
			if err != nil {
				t.Errorf("%s: %v\n%s%s", command, err, out, stderr.String())
				continue
			}
			sameReply(t, command, lines[i+1], string(out))
		case errorCode.MatchString(comment):
			code := errorCode.FindString(comment)
			if !strings.Contains(string(out)+stderr.String(), code) {
				t.Errorf("%s: no %s in\n%s%s", command, code, out, stderr.String())
			}
		default:
			if err != nil || !strings.Contains(string(out), `"ok":true`) {
				t.Errorf("%s: %v\n%s%s", command, err, out, stderr.String())
			}
		}
	}
	if ran < 3 {
		t.Fatalf("only %d commands in the README's command-line block:\n%s", ran, block)
	}
}

// sameReply compares the reply the README shows with the one printed, in
// what does not change from run to run: ok and the result.
func sameReply(t *testing.T, command, shown, printed string) {
	t.Helper()
	type reply struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
	}
	var want, got reply
	if err := json.Unmarshal([]byte(shown), &want); err != nil {
		t.Fatalf("the README's reply to %s: %v", command, err)
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(printed)), &got); err != nil {
		t.Fatalf("%s printed %q: %v", command, printed, err)
	}
	var w, g any
	_ = json.Unmarshal(want.Result, &w)
	_ = json.Unmarshal(got.Result, &g)
	if want.OK != got.OK || !reflect.DeepEqual(w, g) {
		t.Errorf("%s printed\n%s\nthe README shows\n%s", command, printed, shown)
	}
}

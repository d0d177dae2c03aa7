package server_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/browser"
)

// The status page in a real headless browser (Debian's chromium): the
// page loads its module, connects over WebSocket, pings, polls
// /v1/status and fills in every figure. Chromium runs on virtual time
// here, so the figures' values mean nothing; that they are there does.
// A screenshot is left in the test's temporary directory (kept with
// CRUNCH_SCREENSHOT=path).
func TestStatusPageInBrowser(t *testing.T) {
	chromium, err := browser.Find()
	if err != nil {
		t.Skipf("SKIPPED: the status page's browser test needs chromium: %v", err)
	}
	ts := start(t, nil)
	url := "http://" + ts.addr + "/"
	run := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := browser.Headless(ctx, chromium, t.TempDir(), url, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	dom := run("--dump-dom")
	for _, want := range []string{
		`id="conns">[1-9]`,              // its own WebSocket is open
		`id="p50">[0-9]+\.[0-9]+<`,      // pings were answered
		`<td>pool</td><td>2</td>`,       // /v1/status was polled
		`<td>subprocess</td><td>2</td>`, //
		`id="err"></span>`,              // and nothing failed
		`id="rps">[0-9]+\.[0-9]<`,       // two polls at least
	} {
		if !regexp.MustCompile(want).Match(dom) {
			t.Errorf("the page lacks %s:\n%s", want, dom)
		}
	}
	shot := os.Getenv("CRUNCH_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "status.png")
	}
	run("--screenshot=" + shot)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
}

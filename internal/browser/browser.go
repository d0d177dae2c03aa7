// Package browser runs a headless Chromium for the tests that load a page
// the way a user's browser does (the status page, the README's browser
// example).
package browser

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// Find returns the path of a Chromium-family browser, or an error saying
// how to install one.
func Find() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on PATH (apt-get install chromium)")
}

// Headless loads url in browser, headless, with a fresh profile in
// profileDir, adding args such as "--dump-dom" or "--screenshot=FILE"
// (which act when the page has loaded: see HoldTag), and returns what the
// browser printed. The page runs in real time: on virtual time Chromium
// skips ahead whenever no HTTP fetch is pending, and a page waiting for a
// WebSocket reply was cut short on a loaded machine.
func Headless(ctx context.Context, browser, profileDir, url string, args ...string) ([]byte, error) {
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir=" + profileDir, "--window-size=1100,800"}
	out, err := exec.CommandContext(ctx, browser, append(append(base, args...), url)...).Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", browser, url, err)
	}
	return out, nil
}

package js_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testserver"
)

// TestAgainstServer runs server_test.mjs in node against a real crunch
// server: crunch.mjs's calls and error codes over a real WebSocket.
func TestAgainstServer(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPED: the browser client's server tests need node (apt-get install nodejs)")
	}
	// Node has a WebSocket from version 22, and from 20.10 behind a flag.
	var flags []string
	if exec.Command(node, "-e", "if (typeof WebSocket !== 'function') process.exit(1)").Run() != nil {
		flags = []string{"--experimental-websocket"}
		if exec.Command(node, append(flags, "-e", "if (typeof WebSocket !== 'function') process.exit(1)")...).Run() != nil {
			t.Skip("SKIPPED: the browser client's server tests need a node with WebSocket (20.10 or later)")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := testserver.Start(ctx, t, t.TempDir(), testserver.Small(), true)
	cmd := exec.CommandContext(ctx, node, append(flags, "--test", "server_test.mjs")...)
	cmd.Env = append(os.Environ(), "CRUNCH_ADDR="+srv.Addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --test server_test.mjs: %v\n%s\nserver log:\n%s", err, out, srv.Stderr())
	}
}

package js_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/clients/js"
	"github.com/crunchsvc/crunch/internal/testcert"
	"github.com/crunchsvc/crunch/internal/testserver"
)

// The tests of crunch.mjs are node test files (*_test.mjs); the tests here
// run them with node's test runner, against a server where they need one.

// TestCodec runs crunch_test.mjs: the codec alone, no server.
func TestCodec(t *testing.T) {
	argv := findNode(t, "codec", false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runNode(ctx, t, argv, "crunch_test.mjs", nil, nil)
}

// TestAgainstServer runs server_test.mjs against a real crunch server:
// crunch.mjs's calls and error codes over a real WebSocket.
func TestAgainstServer(t *testing.T) {
	argv := findNode(t, "server", true)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := testserver.Start(ctx, t, t.TempDir(), testserver.Small(), true)
	runNode(ctx, t, argv, "server_test.mjs", []string{"CRUNCH_ADDR=" + srv.Addr}, srv.Stderr)
}

// TestTokenOverTLS runs auth_test.mjs against a server with TLS (a
// certificate made here, which node trusts through NODE_EXTRA_CA_CERTS)
// and a token.
func TestTokenOverTLS(t *testing.T) {
	argv := findNode(t, "token", true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cert := testcert.New(t)
	certFile, _ := cert.Files(t, t.TempDir())
	addr := testserver.StartSecure(t, cert, "js-token")
	runNode(ctx, t, argv, "auth_test.mjs",
		[]string{"CRUNCH_AUTH_ADDR=" + addr, "CRUNCH_TOKEN=js-token", "NODE_EXTRA_CA_CERTS=" + certFile}, nil)
}

// The embedded module is the file on disk.
func TestModuleEmbedded(t *testing.T) {
	if len(js.Module) < 1000 {
		t.Fatalf("embedded crunch.mjs is %d bytes", len(js.Module))
	}
}

// findNode returns node's path and, when webSocket is set, the flags that
// give it a WebSocket; it skips t, saying that the browser client's what
// tests need them, when there is no node or no node with a WebSocket.
func findNode(t *testing.T, what string, webSocket bool) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("SKIPPED: the browser client's %s tests need node (apt-get install nodejs)", what)
	}
	// Node has a WebSocket from version 22, and from 20.10 behind a flag.
	hasWebSocket := func(flags ...string) bool {
		return exec.Command(node, append(flags, "-e", "if (typeof WebSocket !== 'function') process.exit(1)")...).Run() == nil
	}
	if !webSocket || hasWebSocket() {
		return []string{node}
	}
	if flag := "--experimental-websocket"; hasWebSocket(flag) {
		return []string{node, flag}
	}
	t.Skipf("SKIPPED: the browser client's %s tests need a node with WebSocket (20.10 or later)", what)
	return nil
}

// runNode runs `node --test script` (argv from findNode), env added to the
// environment, until ctx is done; when it fails, t fails with its output
// and, if serverLog is given, the server's log.
func runNode(ctx context.Context, t *testing.T, argv []string, script string, env []string, serverLog func() string) {
	t.Helper()
	args := slices.Concat(argv[1:], []string{"--test", script})
	cmd := exec.CommandContext(ctx, argv[0], args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	if serverLog != nil {
		t.Fatalf("node --test %s: %v\n%s\nserver log:\n%s", script, err, out, serverLog())
	}
	t.Fatalf("node --test %s: %v\n%s", script, err, out)
}

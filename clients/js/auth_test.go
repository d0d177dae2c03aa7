package js_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testcert"
	"github.com/crunchsvc/crunch/internal/testserver"
)

// TestTokenOverTLS runs auth_test.mjs in node against a server with TLS
// (a certificate made here, which node trusts through
// NODE_EXTRA_CA_CERTS) and a token.
func TestTokenOverTLS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPED: the browser client's token tests need node (apt-get install nodejs)")
	}
	var flags []string
	if exec.Command(node, "-e", "if (typeof WebSocket !== 'function') process.exit(1)").Run() != nil {
		flags = []string{"--experimental-websocket"}
		if exec.Command(node, append(flags, "-e", "if (typeof WebSocket !== 'function') process.exit(1)")...).Run() != nil {
			t.Skip("SKIPPED: the browser client's token tests need a node with WebSocket (20.10 or later)")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cert := testcert.New(t)
	certFile, _ := cert.Files(t, t.TempDir())
	addr := testserver.StartSecure(t, cert, "js-token")
	cmd := exec.CommandContext(ctx, node, append(flags, "--test", "auth_test.mjs")...)
	cmd.Env = append(os.Environ(), "CRUNCH_AUTH_ADDR="+addr, "CRUNCH_TOKEN=js-token", "NODE_EXTRA_CA_CERTS="+certFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --test auth_test.mjs: %v\n%s", err, out)
	}
}

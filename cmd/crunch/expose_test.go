package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/internal/testcert"
	"github.com/crunchsvc/crunch/internal/testserver"
	"github.com/crunchsvc/crunch/internal/testutil"
)

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.2:1": true, "[::1]:8080": true, "localhost:8080": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.1:8080": false,
		"[2001:db8::1]:80": false, "no-port": false,
	} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}

// serve refuses, before starting anything, to listen beyond loopback with
// neither TLS nor a token, and so for the embedded NATS server, naming
// the flags that would do.
func TestServeRefusesOpenBeyondLoopback(t *testing.T) {
	for _, args := range [][]string{
		{"--addr", "0.0.0.0:0"},
		{"--addr", "[::]:0"},
		{"--addr", ":0"},
		{"--addr", "127.0.0.1:0", "--nats-listen", "0.0.0.0:0"},
	} {
		err := serve(append(args, "--workers", "0"))
		if err == nil {
			t.Fatalf("serve %v started", args)
		}
		for _, flag := range []string{"--insecure", "127.0.0.1"} {
			if !strings.Contains(err.Error(), flag) {
				t.Errorf("serve %v: %v: does not name %s", args, err, flag)
			}
		}
	}
	err := serve([]string{"--addr", "0.0.0.0:0", "--workers", "0"})
	if !strings.Contains(err.Error(), "--auth-token-file") || !strings.Contains(err.Error(), "--tls-cert") {
		t.Errorf("the refusal does not name --auth-token-file and --tls-cert: %v", err)
	}
	if err := serve([]string{"--tls-cert", "x.pem", "--workers", "0"}); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("--tls-cert without --tls-key: %v", err)
	}
}

// runServe starts the crunch binary's serve with args on a free port
// (listening on host) and waits until /healthz answers over hc at scheme;
// it returns the loopback address to reach it by. The process is stopped
// with SIGTERM when the test ends.
func runServe(ctx context.Context, t *testing.T, bin, host, scheme string, hc *http.Client, args ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	out := &testutil.SyncBuffer{}
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--addr", net.JoinHostPort(host, port), "--workers", "0", "--pool-workers", "1"}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("crunch serve did not stop on SIGTERM\n%s", out)
		}
	})
	addr := net.JoinHostPort("127.0.0.1", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("crunch serve %v exited: %v\n%s", args, err, out)
		default:
		}
		if resp, err := hc.Get(scheme + "://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr
			}
		}
	}
	t.Fatalf("crunch serve %v: /healthz did not answer\n%s", args, out)
	return ""
}

// With --insecure the server starts beyond loopback, open.
func TestServeInsecureStarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := testserver.Build(ctx, t, t.TempDir())
	addr := runServe(ctx, t, bin, "0.0.0.0", "http", http.DefaultClient, "--insecure")
	out, err := exec.CommandContext(ctx, bin, "call", "--addr", addr, "modsum", "n=7").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("crunch call: %v\n%s", err, out)
	}
}

// Beyond loopback with TLS and a token: crunch call with --ca-file and
// --token-file computes over wss://; without the token it is refused.
func TestServeTLSAndTokenWithCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := testserver.Build(ctx, t, dir)
	cert := testcert.New(t)
	certFile, keyFile := cert.Files(t, dir)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("  tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	addr := runServe(ctx, t, bin, "0.0.0.0", "https", hc,
		"--tls-cert", certFile, "--tls-key", keyFile, "--auth-token-file", tokenFile)
	call := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append([]string{"call", "--addr", "wss://" + addr + "/v1/ws", "--ca-file", certFile}, args...)...)
		cmd.Env = append(os.Environ(), "CRUNCH_TOKEN_FILE=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := call("--token-file", tokenFile, "modsum", "n=7"); err != nil || !strings.Contains(out, `"ok":true`) {
		t.Fatalf("crunch call with the token: %v\n%s", err, out)
	}
	if out, err := call("modsum", "n=7"); err == nil || !strings.Contains(out, "401") {
		t.Fatalf("crunch call without the token: %v\n%s", err, out)
	}
	resp, err := hc.Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("GET /metrics without the token: %d %v", resp.StatusCode, resp.Header)
	}
}

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/crunchsvc/crunch/internal/testutil"
	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/server"
)

// records returns logs' JSON records with message msg.
func records(logs *testutil.SyncBuffer, msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// At the default level, a connection logs one line when it opens and one
// when it closes, with the close code and who sent it; successful requests
// log nothing.
func TestConnectionLogLines(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	ts := start(t, func(c *server.Config) {
		c.MaxMessage = 1024
		c.Log = slog.New(slog.NewJSONHandler(logs, nil))
	})
	c, err := client.Dial(context.Background(), ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := c.Modsum(context.Background(), 3, 100, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	raw := ts.raw(t) // then one closed by the server: 1009
	raw.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 2000))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw.ReadMessage()

	var closed []map[string]any
	testutil.Poll(5*time.Second, func() bool {
		closed = records(logs, "connection closed")
		return len(closed) == 2
	})
	if n := len(records(logs, "connection open")); n != 2 {
		t.Errorf("%d open lines, want 2", n)
	}
	if len(closed) != 2 {
		t.Fatalf("%d close lines, want 2:\n%s", len(closed), logs.String())
	}
	byCode := map[float64]map[string]any{}
	for _, r := range closed {
		byCode[r["code"].(float64)] = r
	}
	if r := byCode[1000]; r == nil || r["by"] != "client" || r["requests"] != 3.0 {
		t.Errorf("client close: %v", r)
	}
	if r := byCode[1009]; r == nil || r["by"] != "server" {
		t.Errorf("1009 close: %v", r)
	}
	for _, r := range records(logs, "connection open") {
		if r["level"] != "INFO" || r["remote"] == nil || r["conn"] == nil {
			t.Errorf("open line: %v", r)
		}
	}
	if strings.Contains(logs.String(), "modsum") {
		t.Errorf("a successful request was logged:\n%s", logs.String())
	}
}

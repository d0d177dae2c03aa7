package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/profile"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/tensor"
)

// exec=auto follows the loaded profile: per op and size, and the default
// rules for ops the profile does not name.
func TestAutoFollowsProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "profile.json")
	err := os.WriteFile(path, []byte(`{"format": "crunch-exec-profile/1", "host": "testbox",
		"default": [{"below_work": 100, "exec": "direct"}, {"exec": "subprocess"}],
		"ops": {"modsum": [{"below_work": 1000, "exec": "subprocess"}, {"below_work": 1e6, "exec": "direct"}, {"exec": "pool"}]}}`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := start(t, func(c *server.Config) { c.Profile = prof })
	c := ts.dial(t)
	ctx := context.Background()
	for iters, want := range map[int64]string{10: "subprocess", 999: "subprocess", 1000: "direct", 5e5: "direct", 1e6: "pool", 1e8: "pool"} {
		_, stats, err := c.Modsum(ctx, 3, iters, nil)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Exec != want {
			t.Errorf("modsum iters=%d ran on %s, want %s", iters, stats.Exec, want)
		}
	}
	// gemm is not in the profile: 2·2·2 = 8 multiply-adds go direct, 8³ to
	// the subprocess.
	for n, want := range map[int]string{2: "direct", 8: "subprocess"} {
		a, err := tensor.New(tensor.F64, n, n)
		if err != nil {
			t.Fatal(err)
		}
		_, stats, err := c.Gemm(ctx, a, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Exec != want {
			t.Errorf("gemm n=%d ran on %s, want %s", n, stats.Exec, want)
		}
	}
	// An explicit exec overrides the profile.
	if _, stats, err := c.Modsum(ctx, 3, 10, &client.Options{Exec: "pool"}); err != nil || stats.Exec != "pool" {
		t.Errorf("exec=pool: %v, %+v", err, stats)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var auto struct {
		Profile string `json:"profile"`
		Host    string `json:"host"`
		Ops     map[string][]profile.Rule
	}
	if err := json.Unmarshal(info["auto"], &auto); err != nil {
		t.Fatal(err)
	}
	if auto.Profile != path || auto.Host != "testbox" || len(auto.Ops["modsum"]) != 3 {
		t.Errorf("info auto = %s", info["auto"])
	}
}

// Without a profile, info says the built-in rules are in use.
func TestAutoBuiltin(t *testing.T) {
	ts := start(t, nil)
	info, err := ts.dial(t).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var auto struct {
		Profile string `json:"profile"`
	}
	if err := json.Unmarshal(info["auto"], &auto); err != nil || auto.Profile != "built-in" {
		t.Errorf("info auto = %s (%v)", info["auto"], err)
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestStatsBadArgs: refusals over the wire, with messages that say why.
func TestStatsBadArgs(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	three := tensor.FromFloat64([]int{3}, []float64{1, 2, 3})
	ints := tensor.FromInt32([]int{2}, []int32{1, 2})
	_, _, err := c.Stats(context.Background(), three, 3, nil)
	if e := wantCode(t, "ddof = count", err, wire.InvalidArgument); !strings.Contains(e.Message, "ddof") {
		t.Errorf("message %q", e.Message)
	}
	_, _, err = c.Stats(context.Background(), three, -1, &client.Options{Text: true})
	wantCode(t, "negative ddof", err, wire.InvalidArgument)
	_, _, err = c.Stats(context.Background(), ints, 0, nil)
	if e := wantCode(t, "i32", err, wire.InvalidArgument); !strings.Contains(e.Message, "i32") {
		t.Errorf("message %q", e.Message)
	}
	_, _, err = c.Stats(context.Background(), three, 0, &client.Options{Impl: "gonum"})
	wantCode(t, "impl gonum", err, wire.NotFound)
}

// TestStatsAndSortInInfo: info describes both ops' arguments, as a client
// needs them to build calls.
func TestStatsAndSortInInfo(t *testing.T) {
	ts := start(t, nil)
	info, err := ts.dial(t).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ops []struct {
		Name  string   `json:"name"`
		Impls []string `json:"impls"`
		Args  []struct {
			Name    string   `json:"name"`
			Kind    string   `json:"kind"`
			DTypes  []string `json:"dtypes"`
			Default any      `json:"default"`
		} `json:"args"`
	}
	if err := json.Unmarshal(info["ops"], &ops); err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, op := range ops {
		var desc []string
		for _, a := range op.Args {
			b, _ := json.Marshal(a)
			desc = append(desc, string(b))
		}
		found[op.Name] = strings.Join(op.Impls, ",") + " " + strings.Join(desc, " ")
	}
	for op, want := range map[string][]string{
		"stats": {"c,go ", `{"name":"x","kind":"tensor","dtypes":["f32","f64"],"default":null}`, `{"name":"ddof","kind":"int","dtypes":null,"default":0}`},
		"sort":  {"c,go ", `"dtypes":["i32","i64","u32","f32","f64"]`, `{"name":"descending","kind":"bool","dtypes":null,"default":false}`},
	} {
		for _, w := range want {
			if !strings.Contains(found[op], w) {
				t.Errorf("info for %s: %s lacks %s", op, found[op], w)
			}
		}
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/wire"
)

// info reports the thread cap: the parallel executors' workers by
// default (the subprocess executor's without a pool), else --max-threads.
func TestInfoMaxThreads(t *testing.T) {
	for _, tc := range []struct {
		cap, want int
		noPool    bool
	}{{0, 2, false}, {1, 1, false}, {5, 5, false}, {0, 2, true}} {
		ts := start(t, func(c *server.Config) {
			c.MaxThreads = tc.cap
			if tc.noPool {
				delete(c.Executors, executor.NamePool)
			}
		})
		info, err := ts.dial(t).Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var limits struct {
			MaxThreads int `json:"max_threads"`
		}
		if err := json.Unmarshal(info["limits"], &limits); err != nil {
			t.Fatal(err)
		}
		if limits.MaxThreads != tc.want {
			t.Errorf("MaxThreads %d, no pool %v: info says max_threads %d, want %d", tc.cap, tc.noPool, limits.MaxThreads, tc.want)
		}
	}
}

// A request's threads changes how its kernel runs, never its result; 0
// is refused.
func TestThreadsSameResult(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	var want []uint32
	for _, threads := range []int{1, 2, 0, 64} {
		counts, _, err := c.MandelbrotEx(context.Background(), client.MandelbrotArgs{Width: 640, Height: 480},
			&client.Options{Exec: "pool", Impl: "c", Threads: threads})
		if err != nil {
			t.Fatalf("threads %d: %v", threads, err)
		}
		got := counts.Uint32()
		if want == nil {
			want = slices.Clone(got)
		} else if !slices.Equal(got, want) {
			t.Errorf("threads %d: counts differ from threads 1's", threads)
		}
	}
	rep := exchange(t, ts.raw(t), websocket.TextMessage, []byte(`{"id":1,"op":"modsum","args":{"n":3,"iters":10},"threads":0}`))
	if rep.OK || rep.Error == nil || rep.Error.Code != wire.InvalidArgument {
		t.Errorf("threads 0: reply %+v, want invalid_argument", rep)
	}
}

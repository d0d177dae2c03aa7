package server_test

import (
	"context"
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

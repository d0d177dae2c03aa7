package server_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// TestConv2DBadArgs: conv2d's own refusals over the wire (those its
// definition states are TestDefinitionsThroughServer's); the server keeps
// serving afterwards.
func TestConv2DBadArgs(t *testing.T) {
	ts := start(t, nil)
	c := ts.dial(t)
	r := rand.New(rand.NewPCG(34, 35))
	img, ker := randMatrix(r, tensor.F64, 4, 4), randMatrix(r, tensor.F64, 2, 2)
	_, _, err := c.Conv2D(context.Background(), img, tensor.FromFloat64([]int{0, 3}, nil), "full", &client.Options{Exec: "subprocess"})
	if e := wantCode(t, "empty kernel", err, wire.InvalidArgument); !strings.Contains(e.Message, "empty") {
		t.Errorf("message %q", e.Message)
	}
	_, _, err = c.Conv2D(context.Background(), img, ker, "", &client.Options{Impl: "gonum"})
	wantCode(t, "impl gonum", err, wire.NotFound)
	for _, ex := range runExecs {
		got, _, err := c.Conv2D(context.Background(), img, ker, "same", &client.Options{Exec: ex})
		if err != nil || got.Len() != 16 {
			t.Fatalf("%s after refusals: %v, %v", ex, got, err)
		}
	}
}

package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/wire"
)

// An exec or impl the server lacks is not_found (docs/PROTOCOL.md), like an
// unknown op: a name no server has, one this server was not started with,
// and an implementation the op does not have. The error names what there
// is, and the connection serves on.
func TestUnknownExecAndImplAreNotFound(t *testing.T) {
	ts := start(t, func(c *server.Config) { delete(c.Executors, executor.NameSubprocess) })
	c := ts.dial(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		o       client.Options
		mention string
	}{
		{"exec no server has", client.Options{Exec: "gpu"}, `"gpu"`},
		{"exec this server lacks", client.Options{Exec: "subprocess"}, "pool"},
		{"impl no op has", client.Options{Impl: "fortran"}, `"fortran"`},
		{"impl modsum lacks", client.Options{Impl: "gonum"}, "c, go"},
		{"both unknown, as text", client.Options{Exec: "gpu", Impl: "fortran", Text: true}, "fortran"},
	} {
		o := tc.o
		_, _, err := c.Modsum(ctx, 7, 10, &o)
		if e := wantCode(t, tc.name, err, wire.NotFound); !strings.Contains(e.Message, tc.mention) {
			t.Errorf("%s: message %q does not mention %s", tc.name, e.Message, tc.mention)
		}
	}
	if got, _, err := c.Modsum(ctx, 7, 10, &client.Options{Exec: "pool", Impl: "c"}); err != nil || got != modsumRef(t, 7, 10) {
		t.Fatalf("modsum after the refusals: %d, %v", got, err)
	}

	// The same by hand on a bare socket: the reply carries the request's id.
	conn := ts.raw(t)
	for i, msg := range []string{
		`{"id":1,"op":"modsum","args":{"n":1},"exec":"gpu"}`,
		`{"id":2,"op":"gemm","args":{"a":[[1]],"b":[[1]]},"impl":"asm"}`,
		`{"id":3,"op":"no_such_op","exec":"gpu"}`,
	} {
		rep := exchange(t, conn, websocket.TextMessage, []byte(msg))
		if rep.OK || rep.Error == nil || rep.Error.Code != wire.NotFound || rep.ID != int64(i+1) {
			t.Errorf("%s: reply %+v (error %+v), want not_found for id %d", msg, rep, rep.Error, i+1)
		}
	}
	// A wrong type is still a malformed request.
	rep := exchange(t, conn, websocket.TextMessage, []byte(`{"id":4,"op":"modsum","args":{"n":1},"exec":7}`))
	if rep.OK || rep.Error == nil || rep.Error.Code != wire.InvalidArgument || rep.ID != 4 {
		t.Errorf("numeric exec: reply %+v (error %+v), want invalid_argument for id 4", rep, rep.Error)
	}
}

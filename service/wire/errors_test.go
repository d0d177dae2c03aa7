package wire

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestAsError(t *testing.T) {
	if AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
	e := Errorf(NotFound, "op %q not found", "x")
	if e.Error() != `not_found: op "x" not found` {
		t.Errorf("Error() = %q", e.Error())
	}
	if got := AsError(fmt.Errorf("dispatch: %w", e)); got != e {
		t.Errorf("wrapped *Error: got %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	for _, c := range []struct {
		err  error
		code Code
		msg  string
	}{
		{ctx.Err(), DeadlineExceeded, "context deadline exceeded"},
		{fmt.Errorf("run: %w", context.Canceled), Canceled, "run: context canceled"},
		{errors.New("boom"), Internal, "boom"},
	} {
		got := AsError(c.err)
		if got.Code != c.code || got.Message != c.msg {
			t.Errorf("AsError(%v) = %+v, want %s %q", c.err, got, c.code, c.msg)
		}
	}
	var typedNil *Error
	if got := AsError(typedNil); got == nil || got.Code != Internal {
		// A typed nil *Error in an error interface is a bug of the caller,
		// reported as internal rather than dereferenced.
		t.Errorf("AsError(typed nil) = %v", got)
	}
}

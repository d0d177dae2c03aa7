package wire

import (
	"context"
	"errors"
	"fmt"
)

// Code is a protocol error code; see the error table of docs/PROTOCOL.md.
type Code string

// The protocol's error codes.
const (
	InvalidArgument  Code = "invalid_argument"  // malformed message, wrong or missing argument; do not retry
	NotFound         Code = "not_found"         // unknown op, or an impl/exec the op does not have
	TooLarge         Code = "too_large"         // a tensor or result over the server's limits
	Overloaded       Code = "overloaded"        // admission refused; retry after RetryAfterMS
	DeadlineExceeded Code = "deadline_exceeded" // timeout_ms passed
	Canceled         Code = "canceled"          // cancelled by the client or by shutdown
	Numerical        Code = "numerical"         // the maths has no answer (a singular matrix, say)
	WorkerFailed     Code = "worker_failed"     // a subprocess worker died while running the request
	Internal         Code = "internal"          // a bug
)

// Error is a protocol error: what a failure reply carries.
type Error struct {
	Code    Code
	Message string
	// RetryAfterMS is the client's suggested wait before retrying; it is
	// sent only with code overloaded.
	RetryAfterMS int64
}

// Error returns "code: message".
func (e *Error) Error() string {
	if e == nil {
		return "nil *wire.Error"
	}
	return string(e.Code) + ": " + e.Message
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError converts any error into the *Error a reply carries: nil stays nil,
// an *Error found by errors.As is returned as it is, context.DeadlineExceeded
// becomes deadline_exceeded, context.Canceled becomes canceled, and anything
// else is internal with err.Error() as its message.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: DeadlineExceeded, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &Error{Code: Canceled, Message: err.Error()}
	}
	return &Error{Code: Internal, Message: err.Error()}
}

// withError returns v with err as an error: nil when err is, rather than
// an interface holding a nil *Error.
func withError[T any](v T, err *Error) (T, error) {
	if err != nil {
		return v, err
	}
	return v, nil
}

// invalid returns an invalid_argument *Error.
func invalid(format string, args ...any) *Error {
	return Errorf(InvalidArgument, format, args...)
}

// within returns a copy of err whose message is prefixed by context, as in
// `argument "a": shape [2,-1]: dimension 1 is negative`.
func within(context string, err *Error) *Error {
	c := *err
	c.Message = context + ": " + err.Message
	return &c
}

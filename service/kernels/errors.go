package kernels

import (
	"errors"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/wire"
)

// fromC maps an error of the C library to the protocol's codes. A
// cancellation is passed through unchanged: only the executor knows
// whether it came from a cancel or from a deadline.
func fromC(op string, err error) error {
	switch {
	case err == nil, errors.Is(err, cgo.ErrCanceled):
		return err
	case errors.Is(err, cgo.ErrInvalid):
		return wire.Errorf(wire.InvalidArgument, "%s: %v", op, err)
	case errors.Is(err, cgo.ErrNoMemory):
		return wire.Errorf(wire.TooLarge, "%s: %v", op, err)
	case errors.Is(err, cgo.ErrRange):
		return wire.Errorf(wire.InvalidArgument, "%s: %v", op, err)
	case errors.Is(err, cgo.ErrNumerical):
		return wire.Errorf(wire.Numerical, "%s: %v", op, err)
	}
	return wire.Errorf(wire.Internal, "%s: %v", op, err)
}

// canceled is what Go implementations return when their Ctx is cancelled,
// so that callers treat C and Go cancellations alike.
var canceled error = cgo.ErrCanceled

func invalidf(format string, args ...any) error {
	return wire.Errorf(wire.InvalidArgument, format, args...)
}

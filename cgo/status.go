//go:build cgo

package cgo

/*
#include <crunch.h>
*/
import "C"

import "fmt"

// Status is a crunch_status: the result code of every C kernel.
type Status int

// The statuses of include/crunch.h.
const (
	OK        Status = C.CRUNCH_OK
	EINVAL    Status = C.CRUNCH_EINVAL
	ENOMEM    Status = C.CRUNCH_ENOMEM
	ECANCELED Status = C.CRUNCH_ECANCELED
	ERANGE    Status = C.CRUNCH_ERANGE
	// ENUMERICAL: the maths has no reliable answer (a singular matrix,
	// NaN or Inf input); the protocol's "numerical" error.
	ENUMERICAL Status = C.CRUNCH_ENUMERICAL
)

// String returns the library's description of s (crunch_strerror).
func (s Status) String() string {
	return C.GoString(C.crunch_strerror(C.crunch_status(s)))
}

// Error is a non-OK status from a C function, or an argument the binding
// refused before calling C (Detail then says why).
type Error struct {
	Func   string // the C function, e.g. "crunch_gemm_f64"
	Status Status
	Detail string
}

// Error formats the failure as "crunch_gemm_f64: invalid argument: …".
func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s: %s", e.Func, e.Status, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Func, e.Status)
}

// Is makes errors.Is(err, cgo.ErrCanceled) and friends match by status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Func == "" && t.Status == e.Status
}

// Sentinels for errors.Is: they match any *Error with their status.
var (
	ErrInvalid  = &Error{Status: EINVAL}
	ErrNoMemory = &Error{Status: ENOMEM}
	ErrCanceled = &Error{Status: ECANCELED}
	ErrRange    = &Error{Status: ERANGE}
	// ErrNumerical matches a singular matrix or non-finite input: the
	// protocol's numerical error, from C kernels and Go ones alike.
	ErrNumerical = &Error{Status: ENUMERICAL}
)

// check turns a C status into nil or an *Error naming fn.
func check(fn string, st C.crunch_status) error {
	if st == C.CRUNCH_OK {
		return nil
	}
	return &Error{Func: fn, Status: Status(st)}
}

// invalid is the binding's own refusal of an argument C cannot check, such
// as a slice shorter than its sizes say.
func invalid(fn, format string, args ...any) error {
	return &Error{Func: fn, Status: EINVAL, Detail: fmt.Sprintf(format, args...)}
}

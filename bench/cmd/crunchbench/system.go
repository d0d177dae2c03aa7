package main

import (
	"context"

	"github.com/crunchsvc/crunch/bench/load"
)

// system is one server set-up that the end-to-end mode drives with the
// same load and probe: a crunch server whose requests name an executor, or
// the FastAPI comparison server (bench/fastapi) in one of its modes (fastapi.go).
type system struct {
	// Name labels the system's rows, e.g. "crunch pool" or "fastapi inline".
	Name string
	// Exec is the exec field of every request ("" to send none).
	Exec string
	// Ops lists the ops the system serves; workloads of other ops skip it.
	Ops []string
	// Start launches a fresh server for one run; the caller stops it.
	Start func(ctx context.Context) (*load.Server, error)
}

package main

import (
	"os"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
)

// worker runs this process as a subprocess worker: jobs arrive on stdin,
// results leave on stdout, diagnostics go to stderr (the server's log).
func worker() error {
	return executor.WorkerMain(os.Stdin, os.Stdout, kernels.Default())
}

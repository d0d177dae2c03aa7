package main

import (
	"fmt"
	"os"
	"runtime"
)

// defaultGoProcs is --go-procs' default: twice the CPUs the server may use
// (runtime.GOMAXPROCS as the process started: the CPUs of its affinity and
// cgroup quota), or what a GOMAXPROCS environment variable asked for.
//
// With only as many Ps as CPUs, a server moving large messages keeps every
// P busy in read and write system calls and unmasking, and a ping that
// arrives then can wait until one of them looks at the network again (up
// to the 10 ms of the runtime's background poll): under `make bench`'s gemm
// load an idle connection's ping p99 was 5.3-7.0 ms so, 4.6-5.1 ms with
// two Ps per CPU (docs/PERFORMANCE.md). Kernels do not keep Ps (a cgo
// call gives its P up once it runs long; subprocess workers are processes
// of their own), and their threads are counted by their own flags, so more
// Ps add no compute, only threads for the OS to share the CPUs between.
func defaultGoProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	return 2 * runtime.GOMAXPROCS(0)
}

// setGoProcs sets GOMAXPROCS to n, after every default that counts CPUs
// has been taken from it.
func setGoProcs(n int) error {
	if n < 1 {
		return fmt.Errorf("--go-procs %d: want 1 or more", n)
	}
	runtime.GOMAXPROCS(n)
	return nil
}

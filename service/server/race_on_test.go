//go:build race

package server_test

// raceEnabled reports a build with the race detector, which slows this
// test process's clients about tenfold.
const raceEnabled = true

//go:build race

package executor

// raceEnabled reports a build with the race detector, whose runtime
// reserves terabytes of address space: no RLIMIT_AS can hold it.
const raceEnabled = true

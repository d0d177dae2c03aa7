//go:build !race

package executor

// raceEnabled reports a build with the race detector.
const raceEnabled = false

//go:build race

package testutil

// RaceEnabled reports a build with the race detector, which slows Go code
// several times over (tests leave out their largest cases under it) and
// reserves terabytes of address space (no RLIMIT_AS can hold it).
const RaceEnabled = true

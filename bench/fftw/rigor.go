package fftw

// Rigor is how hard the planner looks for the fastest plan.
type Rigor int

const (
	// Measure is FFTW_MEASURE: the planner times several algorithms
	// first, which takes a while (seconds at 2^20) and overwrites the
	// arrays; FFTW remembers the winner, so that planning the same
	// transform again in this process is quick.
	Measure Rigor = iota
	// Estimate is FFTW_ESTIMATE: a plan chosen at once by heuristics,
	// which may run slower; for a quick check that a benchmark runs.
	Estimate
)

package main

// seedSystems returns the seed's FastAPI server in each of its modes, when
// this machine can run it (see bench/fastapi); none otherwise, with the
// reason.
func seedSystems(e *env) (systems []system, missing string) {
	return nil, "not built yet"
}

// Package load drives a crunch server from the outside, as its users do: it
// builds `crunch serve` and launches it as a separate process (Server;
// StartCommand launches another server the same way, such as the FastAPI
// FastAPI one in bench/fastapi),
// keeps every connection busy with closed-loop requests (StartLoad), pings
// the server from one more, idle connection meanwhile (Probe; or several
// probes at once, each in a process of its own, such as the Python one of
// PythonProbe: MeasureConfig.Probes), samples the
// server's OS threads and memory from /proc (Sampler), and sums all of it up
// in a Result that encodes to JSON (Measure).
//
// bench/cmd/crunchbench is its command; the tests here only check that the
// pieces work, quickly. Long measurements belong in the command.
package load

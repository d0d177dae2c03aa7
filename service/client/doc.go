// Package client is the Go client of a crunch server: one WebSocket
// connection (gorilla/websocket) carrying many calls at once, replies
// matched by id, a typed method per op. `crunch call`, the tests and the
// benchmarks all use it.
//
// # Servers with TLS and a token
//
// DialWith takes DialOptions: Token is sent as "Authorization: Bearer
// TOKEN" (a server started with --auth-token-file refuses the dial
// without it, with ErrUnauthorized), and TLS configures wss:// (CAFile
// makes one that trusts a self-signed certificate or a private CA;
// TokenFile reads a token file). A Redialer takes them in its Dial field.
//
// # Op methods
//
// Every op has a method <Op>Ex taking an <Op>Args struct (GemmEx with
// GemmArgs, FFTEx with FFTArgs, ...), generated into ops_generated.go from
// the op's definition in service/kernels, the one the server validates
// requests with and info serves: argument names and order, docs and
// result names come from there. This command regenerates the file (and
// the Python client's methods), so a new op gets its method by being
// defined; the test fails while the committed file is stale:
//
//	go test ./service/kernels/clientgen -update
//
// Do sends any request.
//
// Why a struct per op: Go has neither keyword arguments nor default
// values. A struct names each argument where it is given
// (GemmArgs{A: a, B: b, TransA: new(true)}), and an argument added to an
// op is a field no existing caller has to mention, where a positional
// parameter would break every call. Required arguments are plain fields.
// Optional scalars are pointers, because a zero value can be a real
// argument that is not the default (alpha 0 against alpha's default 1): a
// nil one is not sent, and the server applies the definition's default,
// so a default lives in the definition only and is never copied into the
// client. An optional tensor is nil when absent. A single result is
// returned as itself; several as an <Op>Result struct (StatsResult).
//
// The short forms (shorthand.go: Gemm, FFT, IFFT, Stats, Sort, Solve,
// Conv2D, Modsum, and Mandelbrot with MandelbrotView) are hand-written
// for the common calls, each filling an <Op>Args and calling <Op>Ex, so
// they add no names, defaults or result shapes of their own. A new op
// needs none.
package client

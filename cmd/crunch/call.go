package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/tensor/npy"
	"github.com/crunchsvc/crunch/service/wire"
)

const callUsage = `usage: crunch call [flags] OP [name=value ...]

Each value is JSON when it parses as JSON (numbers, true/false, nested
arrays, which become f64 tensors, or tensor objects), otherwise a string.
A value @PATH reads a tensor from the NumPy .npy file PATH (np.save's
format: uint8, uint16, uint32, int32, int64, float32, float64, complex64 or
complex128, either byte order, C or Fortran order); such a request is sent
as a binary message. To send a string that starts with @, quote it as
JSON: name='"@text"'.

-o writes tensor results as .npy files instead of printing them: -o
FILE.npy takes the one tensor result, -o DIR (any other path) each as
DIR/NAME.npy. The printed reply shows "@PATH" in their place; other
results are printed as they are.

Examples:
  crunch call modsum n=7
  crunch call modsum n=7 iters=1000000000 --exec pool --progress
  crunch call gemm a='[[1,2],[3,4]]' b='[[5,6],[7,8]]'
  crunch call gemm a=@a.npy b=@b.npy -o c.npy
  crunch call fft x=@signal.npy -o spectra     # writes spectra/y.npy
  crunch call info

flags:
`

// callCmd sends one request and prints the reply as JSON.
func callCmd(args []string) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, callUsage); fs.PrintDefaults() }
	addr := fs.String("addr", defaultAddr(), "server address: host:port or a ws:// or wss:// URL (default from $CRUNCH_ADDR)")
	exec := fs.String("exec", "", "executor: auto, direct, pool, subprocess, or cluster on a cluster node")
	impl := fs.String("impl", "", "implementation: auto, c, go or gonum")
	timeout := fs.Duration("timeout", 0, "request deadline (0: the server's default)")
	binary := fs.Bool("binary", false, "send a binary message (default: text, unless an argument is a .npy file)")
	out := fs.String("o", "", "write tensor results as .npy: FILE.npy for the one tensor result, or a directory for each as NAME.npy")
	progress := fs.Bool("progress", false, "print progress to stderr while the op runs")
	tokenFile := fs.String("token-file", os.Getenv("CRUNCH_TOKEN_FILE"), "send this file's contents (trimmed) as the token of a server started with --auth-token-file (default from $CRUNCH_TOKEN_FILE)")
	caFile := fs.String("ca-file", "", "trust the certificate(s) in this PEM file (the server's self-signed one, or a private CA) for wss://; implies wss:// for a host:port address")
	// Flags may come after the op and its arguments too.
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) == 0 {
		fs.Usage()
		return fmt.Errorf("no op given")
	}
	req, err := buildRequest(rest[0], rest[1:])
	if err != nil {
		return err
	}
	for _, kv := range rest[1:] {
		if _, v, _ := strings.Cut(kv, "="); isFile(v) {
			*binary = true // text is slow for large arrays and cannot carry NaN or ±Inf
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dial, err := dialOptions(*tokenFile, *caFile)
	if err != nil {
		return err
	}
	c, err := client.DialWith(ctx, *addr, dial)
	if err != nil {
		return err
	}
	defer c.Close()
	o := &client.Options{Exec: *exec, Impl: *impl, Timeout: *timeout, Text: !*binary}
	if *progress {
		o.Progress = func(f float64) { fmt.Fprintf(os.Stderr, "\rprogress %5.1f%%", 100*f) }
	}
	start := time.Now()
	rep, err := c.Do(ctx, req, o)
	if *progress {
		fmt.Fprintln(os.Stderr)
	}
	if rep == nil {
		return err
	}
	rep.ID = req.ID
	var saveErr error // the reply is printed anyway: what -o did not write is in it
	if *out != "" {
		saveErr = saveResults(rep, *out, os.Stderr)
	}
	text, _, encErr := wire.EncodeReply(rep, false)
	if encErr != nil {
		return encErr
	}
	fmt.Println(string(text))
	if saveErr != nil {
		return saveErr
	}
	fmt.Fprintf(os.Stderr, "round trip %v\n", time.Since(start).Round(time.Microsecond))
	if err != nil {
		os.Exit(1) // the reply, printed above, says what failed
	}
	return nil
}

// buildRequest turns OP name=value... into a request. The arguments are
// written as a text message and decoded by the wire codec, so that nested
// arrays and tensor objects on the command line mean what they mean on the
// wire. A value that is not JSON is taken as a string, and a value @PATH
// is the tensor in the .npy file PATH.
func buildRequest(op string, kvs []string) (*wire.Request, error) {
	var b strings.Builder
	opJSON, _ := json.Marshal(op)
	fmt.Fprintf(&b, `{"id":1,"op":%s,"args":{`, opJSON)
	files := map[string]*tensor.Tensor{}
	for i, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("argument %q is not name=value", kv)
		}
		if path, ok := fileArg(v); ok {
			t, err := npy.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("argument %s: %w", k, err)
			}
			files[k] = t
			v = "null" // its place in the message; the tensor replaces it below
		}
		if !json.Valid([]byte(v)) {
			q, _ := json.Marshal(v)
			v = string(q)
		}
		kJSON, _ := json.Marshal(k)
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%s", kJSON, v)
	}
	b.WriteString("}}")
	req, err := wire.DecodeRequest(false, []byte(b.String()))
	if err != nil {
		return nil, err
	}
	for k, t := range files {
		req.Args[k] = wire.TensorValue(t)
	}
	req.ID = 0 // the client numbers its requests
	return req, nil
}

// dialOptions reads the token and CA files that call's flags name.
func dialOptions(tokenFile, caFile string) (*client.DialOptions, error) {
	var o client.DialOptions
	var err error
	if tokenFile != "" {
		if o.Token, err = client.TokenFile(tokenFile); err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
	}
	if caFile != "" {
		if o.TLS, err = client.CAFile(caFile); err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
	}
	return &o, nil
}

// defaultAddr is $CRUNCH_ADDR, the address the Python client's tests use
// too, or the address `make run` listens on.
func defaultAddr() string {
	if a := os.Getenv("CRUNCH_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:8080"
}

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
	"github.com/crunchsvc/crunch/service/wire"
)

const callUsage = `usage: crunch call [flags] OP [name=value ...]

Each value is JSON when it parses as JSON (numbers, true/false, nested
arrays, which become f64 tensors, or tensor objects), otherwise a string.
Examples:
  crunch call modsum n=7
  crunch call modsum n=7 iters=1000000000 --exec pool --progress
  crunch call gemm a='[[1,2],[3,4]]' b='[[5,6],[7,8]]'
  crunch call info

flags:
`

// callCmd sends one request and prints the reply as JSON.
func callCmd(args []string) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, callUsage); fs.PrintDefaults() }
	addr := fs.String("addr", defaultAddr(), "server address: host:port or a ws:// URL (default from $CRUNCH_ADDR)")
	exec := fs.String("exec", "", "executor: auto, direct, pool or subprocess")
	impl := fs.String("impl", "", "implementation: auto, c, go or gonum")
	timeout := fs.Duration("timeout", 0, "request deadline (0: the server's default)")
	binary := fs.Bool("binary", false, "send a binary message (default: text)")
	progress := fs.Bool("progress", false, "print progress to stderr while the op runs")
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

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := client.Dial(ctx, *addr)
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
	out, _, encErr := wire.EncodeReply(rep, false)
	if encErr != nil {
		return encErr
	}
	fmt.Println(string(out))
	fmt.Fprintf(os.Stderr, "round trip %v\n", time.Since(start).Round(time.Microsecond))
	if err != nil {
		os.Exit(1) // the reply, printed above, says what failed
	}
	return nil
}

// buildRequest turns OP name=value... into a request. The arguments are
// written as a text message and decoded by the wire codec, so that nested
// arrays and tensor objects on the command line mean what they mean on the
// wire. A value that is not JSON is taken as a string.
func buildRequest(op string, kvs []string) (*wire.Request, error) {
	var b strings.Builder
	opJSON, _ := json.Marshal(op)
	fmt.Fprintf(&b, `{"id":1,"op":%s,"args":{`, opJSON)
	for i, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("argument %q is not name=value", kv)
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
	req.ID = 0 // the client numbers its requests
	return req, nil
}

// defaultAddr is $CRUNCH_ADDR, the address the Python client's tests use
// too, or the address `make run` listens on.
func defaultAddr() string {
	if a := os.Getenv("CRUNCH_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:8080"
}

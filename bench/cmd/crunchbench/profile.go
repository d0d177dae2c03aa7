package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/crunchsvc/crunch/service/executor"
	"github.com/crunchsvc/crunch/service/kernels"
	"github.com/crunchsvc/crunch/service/profile"
	"github.com/crunchsvc/crunch/service/server"
	"github.com/crunchsvc/crunch/service/tensor"
	"github.com/crunchsvc/crunch/service/wire"
)

// Flags of the profile mode.
var (
	profileOut       = flag.String("profile-out", "", "profile: write the exec profile (the file crunch serve --profile reads) here")
	profileMaxDirect = flag.Duration("profile-max-direct", 200*time.Microsecond,
		"profile: direct never wins a call slower than this (each running direct call holds a normal-priority OS thread)")
	profileBudget = flag.Duration("profile-budget", 300*time.Millisecond, "profile: time spent measuring each case on each executor")
)

// profileCase is one op at one size: the arguments of a call.
type profileCase struct {
	op   string
	size string // for the report
	args func(r *rand.Rand) (wire.Args, error)
}

// profileCases spans each op from calls far cheaper than a thread hand-off
// to calls that run for milliseconds, where the executors' fixed costs no
// longer matter and what is left is how they move data.
func profileCases() []profileCase {
	var cs []profileCase
	for _, iters := range []int64{0, 1_000, 100_000, 10_000_000} {
		cs = append(cs, profileCase{"modsum", fmt.Sprintf("iters=%d", iters), func(*rand.Rand) (wire.Args, error) {
			return wire.Args{"n": wire.Int(7), "iters": wire.Int(iters)}, nil
		}})
	}
	for _, n := range []int{4, 16, 64, 256, 512} {
		cs = append(cs, profileCase{"gemm", fmt.Sprintf("%d×%d f64", n, n), func(r *rand.Rand) (wire.Args, error) {
			return tensors(r, map[string][]int{"a": {n, n}, "b": {n, n}}, tensor.F64)
		}})
	}
	for _, n := range []int{64, 1024, 16384, 262144} {
		cs = append(cs, profileCase{"fft", fmt.Sprintf("n=%d c128", n), func(r *rand.Rand) (wire.Args, error) {
			return tensors(r, map[string][]int{"x": {n}}, tensor.C128)
		}})
	}
	for _, op := range []string{"stats", "sort"} {
		for _, n := range []int{100, 10_000, 1_000_000} {
			cs = append(cs, profileCase{op, fmt.Sprintf("n=%d f64", n), func(r *rand.Rand) (wire.Args, error) {
				return tensors(r, map[string][]int{"x": {n}}, tensor.F64)
			}})
		}
	}
	for _, n := range []int{16, 128, 1024} {
		cs = append(cs, profileCase{"conv2d", fmt.Sprintf("%d×%d ⊛ 5×5 f64", n, n), func(r *rand.Rand) (wire.Args, error) {
			return tensors(r, map[string][]int{"image": {n, n}, "kernel": {5, 5}}, tensor.F64)
		}})
	}
	for _, n := range []int{8, 64, 512} {
		cs = append(cs, profileCase{"solve", fmt.Sprintf("n=%d f64", n), func(r *rand.Rand) (wire.Args, error) {
			args, err := tensors(r, map[string][]int{"a": {n, n}, "b": {n}}, tensor.F64)
			if err == nil { // diagonally dominant: well conditioned
				a := args["a"].Tensor.Float64()
				for i := range n {
					a[i*n+i] += float64(n)
				}
			}
			return args, err
		}})
	}
	for _, n := range []int{8, 64, 512} {
		cs = append(cs, profileCase{"mandelbrot", fmt.Sprintf("%d×%d, 256 iterations", n, n), func(*rand.Rand) (wire.Args, error) {
			return wire.Args{"width": wire.Int(int64(n)), "height": wire.Int(int64(n)),
				"x_min": wire.Float(-2), "x_max": wire.Float(1), "y_min": wire.Float(-1.5), "y_max": wire.Float(1.5),
				"max_iter": wire.Int(256)}, nil
		}})
	}
	return cs
}

// tensors makes one tensor of dtype per name, of the given shape, filled
// with uniform values in [-1, 1) (complex: both parts).
func tensors(r *rand.Rand, shapes map[string][]int, dt tensor.DType) (wire.Args, error) {
	args := wire.Args{}
	for name, shape := range shapes {
		t, err := tensor.New(dt, shape...)
		if err != nil {
			return nil, err
		}
		for i := 0; i+8 <= len(t.Data); i += 8 { // f64 and c128 are both runs of float64
			binary.LittleEndian.PutUint64(t.Data[i:], math.Float64bits(2*r.Float64()-1))
		}
		args[name] = wire.TensorValue(t)
	}
	return args, nil
}

// profileResult is what the profile mode reports in the JSON.
type profileResult struct {
	Measurements []profile.Measurement `json:"measurements"`
	Skipped      []string              `json:"skipped,omitempty"`
	Profile      *profile.Profile      `json:"profile"`
}

// runProfile measures every case through each executor, in this process
// (the subprocess workers are the built crunch binary), one call at a time,
// and builds from the medians the profile exec=auto follows.
func runProfile(ctx context.Context, e *env) (any, error) {
	pool := executor.NewPool(executor.PoolConfig{})
	defer pool.Close()
	sub, err := executor.NewSubprocess(executor.SubprocessConfig{Command: []string{e.bin, "worker"}})
	if err != nil {
		return nil, fmt.Errorf("starting subprocess workers: %w", err)
	}
	defer sub.Close()
	execs := []executor.Executor{executor.NewDirect(0), pool, sub}
	budget := *profileBudget
	if *quick && !flagGiven("profile-budget") {
		budget = 50 * time.Millisecond
	}

	fmt.Fprintf(e.out, "\n## Which executor is fastest, per op and size\n\n")
	fmt.Fprintf(e.out, "One call at a time through each executor in one process (C implementation, "+
		"default settings), median of as many calls as fit in %v after 3 warm-up calls; times in µs. "+
		"Work is the op's own measure of size (kernels.Call.Work). Direct never wins a call slower "+
		"than %v (-profile-max-direct).\n\n", budget, *profileMaxDirect)
	tab := &table{header: []string{"op", "size", "work", "direct µs", "pool µs", "subprocess µs", "chosen"},
		right: []bool{false, false, true, true, true, true, false}}
	var res profileResult
	r := rand.New(rand.NewPCG(1, 2))
	cases := profileCases()
	for i, c := range cases {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		e.status.set("profile %d/%d: %s %s", i+1, len(cases), c.op, c.size)
		job, work, err := prepareCase(r, c)
		if err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s %s: %v", c.op, c.size, err))
			continue
		}
		row := []string{c.op, c.size, fmt.Sprintf("%.3g", work)}
		best, bestUS := "", math.Inf(1)
		for _, ex := range execs {
			med, err := medianCall(ctx, ex, job, budget)
			if err != nil {
				return res, fmt.Errorf("%s %s on %s: %w", c.op, c.size, ex.Name(), err)
			}
			us := float64(med) / float64(time.Microsecond)
			res.Measurements = append(res.Measurements, profile.Measurement{Op: c.op, Work: work, Exec: ex.Name(), MedianUS: us})
			row = append(row, fmt.Sprintf("%.1f", us))
			if direct := ex.Name() == executor.NameDirect; us < bestUS && (!direct || med <= *profileMaxDirect) {
				best, bestUS = ex.Name(), us
			}
		}
		tab.add(append(row, best)...)
	}
	tab.write(e.out)
	for _, s := range res.Skipped {
		fmt.Fprintf(e.out, "\nSkipped: %s\n", s)
	}
	res.Profile = profile.Build(res.Measurements, *profileMaxDirect, server.DefaultConfig().AutoThreshold)
	res.Profile.Host, _ = os.Hostname()
	res.Profile.CPU = e.machine.CPU
	res.Profile.Created = time.Now().UTC().Format(time.RFC3339)
	res.Profile.Command = e.command
	fmt.Fprintf(e.out, "\nThe profile's rules (work below a bound → executor):\n\n")
	fmt.Fprintf(e.out, "- other ops: %s\n", describeRules(res.Profile.Default))
	for _, op := range slices.Sorted(maps.Keys(res.Profile.Ops)) {
		fmt.Fprintf(e.out, "- %s: %s\n", op, describeRules(res.Profile.Ops[op]))
	}
	if *profileOut != "" {
		if err := res.Profile.Save(*profileOut); err != nil {
			return res, err
		}
		fmt.Fprintf(e.out, "\nWritten to `%s`; use it with `crunch serve --profile %s`.\n", *profileOut, *profileOut)
	}
	return res, nil
}

// describeRules writes rules as "direct below 2.1e+04, then pool".
func describeRules(rules []profile.Rule) string {
	var parts []string
	for _, r := range rules {
		if r.BelowWork > 0 {
			parts = append(parts, fmt.Sprintf("%s below %.3g", r.Exec, r.BelowWork))
		} else {
			parts = append(parts, r.Exec)
		}
	}
	return strings.Join(parts, ", then ")
}

// prepareCase makes a case's job for the C implementation and returns its
// work. An op that this build does not have is an error to skip, not to
// stop for.
func prepareCase(r *rand.Rand, c profileCase) (*executor.Job, float64, error) {
	op, err := kernels.Default().Lookup(c.op)
	if err != nil {
		return nil, 0, errors.New("no such op in this build")
	}
	args, err := c.args(r)
	if err != nil {
		return nil, 0, err
	}
	call, err := op.Prepare(args)
	if err != nil {
		return nil, 0, err
	}
	return &executor.Job{Call: call, Impl: kernels.ImplC, Args: args}, call.Work, nil
}

// medianCall runs job on ex three times to warm up, then for about budget
// (at least 5 and at most 2,000 calls), and returns the median call.
func medianCall(ctx context.Context, ex executor.Executor, job *executor.Job, budget time.Duration) (time.Duration, error) {
	var took []time.Duration
	start := time.Now()
	for i := 0; ; i++ {
		t0 := time.Now()
		if _, err := ex.Run(ctx, job); err != nil {
			return 0, err
		}
		if i >= 3 {
			took = append(took, time.Since(t0))
		}
		if n := len(took); n >= 2000 || (n >= 5 && time.Since(start) > budget) {
			break
		}
	}
	slices.Sort(took)
	return took[len(took)/2], nil
}

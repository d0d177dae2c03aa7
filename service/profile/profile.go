// Package profile is how exec=auto chooses an executor: a table, per op,
// of problem sizes and the executor that was fastest for them on this
// machine. `make bench` measures and writes one (see Build); `crunch serve
// --profile FILE` reads it; without one, built-in rules apply (tiny calls
// direct, the rest on the pool). The file format is documented in
// docs/PROFILE.md.
package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
)

// Format is the value of a profile file's "format" member.
const Format = "crunch-exec-profile/1"

// Executor names a profile may choose (package executor's names).
var execNames = []string{"direct", "pool", "subprocess"}

// Rule sends calls whose work is below BelowWork (or any work, when
// BelowWork is 0) to Exec. Work is the op's own measure of a call's size,
// kernels.Call.Work: multiply-adds for gemm, iterations for modsum, and so
// on.
type Rule struct {
	BelowWork float64 `json:"below_work,omitempty"`
	Exec      string  `json:"exec"`
}

// Profile maps ops and sizes to executors. Ops without rules of their own
// use Default.
type Profile struct {
	Format  string            `json:"format"`
	Source  string            `json:"-"` // the file it came from, or "built-in"
	Host    string            `json:"host,omitempty"`
	CPU     string            `json:"cpu,omitempty"`
	Created string            `json:"created,omitempty"` // RFC 3339
	Command string            `json:"command,omitempty"` // what measured it
	Default []Rule            `json:"default"`
	Ops     map[string][]Rule `json:"ops,omitempty"`
	// Evidence is what the choices were made from, kept for the reader:
	// the server does not use it.
	Evidence []Measurement `json:"evidence,omitempty"`
}

// Builtin is the profile used without a file: calls with less work than
// directBelow run directly (their dispatch to another thread would cost
// more than they do), everything else on the pool.
func Builtin(directBelow float64) *Profile {
	return &Profile{
		Format: Format, Source: "built-in",
		Default: []Rule{{BelowWork: directBelow, Exec: "direct"}, {Exec: "pool"}},
	}
}

// Load reads and checks a profile file.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the exec profile: %w", err)
	}
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("exec profile %s: %w", path, err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("exec profile %s: %w", path, err)
	}
	p.Source = path
	return &p, nil
}

// Save writes p to path as indented JSON.
func (p *Profile) Save(path string) error {
	if err := p.check(); err != nil {
		return fmt.Errorf("exec profile: %w", err)
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("exec profile: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the exec profile: %w", err)
	}
	return nil
}

// check validates the format, the executor names and the order of the
// thresholds of every rule list.
func (p *Profile) check() error {
	if p.Format != Format {
		return fmt.Errorf("format %q, want %q", p.Format, Format)
	}
	if len(p.Default) == 0 {
		return errors.New("no default rules")
	}
	if err := checkRules("default", p.Default); err != nil {
		return err
	}
	for op, rules := range p.Ops {
		if err := checkRules(op, rules); err != nil {
			return err
		}
	}
	return nil
}

func checkRules(name string, rules []Rule) error {
	last := 0.0
	for i, r := range rules {
		if !slices.Contains(execNames, r.Exec) {
			return fmt.Errorf("%s rule %d: exec %q, want one of %v", name, i+1, r.Exec, execNames)
		}
		switch {
		case r.BelowWork < 0 || math.IsNaN(r.BelowWork):
			return fmt.Errorf("%s rule %d: below_work %v", name, i+1, r.BelowWork)
		case r.BelowWork == 0 && i != len(rules)-1:
			return fmt.Errorf("%s rule %d: a rule without below_work matches everything and must come last", name, i+1)
		case r.BelowWork != 0 && r.BelowWork <= last:
			return fmt.Errorf("%s rule %d: below_work %v does not increase", name, i+1, r.BelowWork)
		}
		last = r.BelowWork
	}
	return nil
}

// Choose returns the executor for a call of op with the given work, taken
// from the first of the op's rules (or the default rules) that matches, or
// from the last rule when none does. available says which executors the
// server runs: a choice it lacks falls back to the pool, then to any.
func (p *Profile) Choose(op string, work float64, available func(string) bool) string {
	rules := p.Ops[op]
	if len(rules) == 0 {
		rules = p.Default
	}
	choice := rules[len(rules)-1].Exec
	for _, r := range rules {
		if r.BelowWork == 0 || work < r.BelowWork {
			choice = r.Exec
			break
		}
	}
	if available(choice) {
		return choice
	}
	if available("pool") {
		return "pool"
	}
	for _, name := range execNames {
		if available(name) {
			return name
		}
	}
	return choice
}

// Summary is what `info` shows of the profile in use: where it came from,
// when and where it was measured, and its rules (not its evidence).
func (p *Profile) Summary() map[string]any {
	s := map[string]any{"profile": p.Source, "default": p.Default}
	if len(p.Ops) > 0 {
		s["ops"] = p.Ops
	}
	for k, v := range map[string]string{"host": p.Host, "cpu": p.CPU, "created": p.Created} {
		if v != "" {
			s[k] = v
		}
	}
	return s
}

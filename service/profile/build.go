package profile

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Measurement is the median time of one call of op, of a given work,
// through one executor, measured on this machine.
type Measurement struct {
	Op       string  `json:"op"`
	Work     float64 `json:"work"`
	Exec     string  `json:"exec"`
	MedianUS float64 `json:"median_us"`
}

// Build makes a profile from measurements: for every op and work measured,
// the executor with the lowest median wins, except that direct never wins
// a call that runs longer than maxDirect. A direct call runs on the
// request's own goroutine and so on a thread of its own at normal priority:
// a few fast ones cost nothing, but many long ones crowd out the threads
// serving sockets (see docs/PERFORMANCE.md), which the pool's low-priority
// threads never do. Sizes in a row with the same winner merge into one
// rule; the boundary between two measured sizes is their geometric mean.
// When direct wins the largest size, it keeps larger calls only up to the
// work at which it would take maxDirect, extrapolated linearly.
// Ops not measured follow the built-in rules for directBelow.
func Build(ms []Measurement, maxDirect time.Duration, directBelow float64) *Profile {
	p := Builtin(directBelow)
	p.Source = ""
	p.Evidence = ms
	p.Ops = map[string][]Rule{}
	type point struct {
		work float64
		exec string
	}
	byOp := map[string][]point{}
	best := map[[2]any]Measurement{} // by op and work
	for _, m := range ms {
		if m.Exec == "direct" && m.MedianUS > float64(maxDirect)/float64(time.Microsecond) {
			continue
		}
		k := [2]any{m.Op, m.Work}
		if b, ok := best[k]; !ok || m.MedianUS < b.MedianUS {
			best[k] = m
		}
	}
	for _, m := range best {
		byOp[m.Op] = append(byOp[m.Op], point{m.Work, m.Exec})
	}
	for op, pts := range byOp {
		slices.SortFunc(pts, func(a, b point) int { return cmp.Compare(a.work, b.work) })
		var rules []Rule
		for i, pt := range pts {
			if i+1 < len(pts) && pts[i+1].exec == pt.exec {
				continue // the next size extends this rule
			}
			r := Rule{Exec: pt.exec}
			if i+1 < len(pts) {
				r.BelowWork = math.Sqrt(math.Max(pt.work, 1) * pts[i+1].work)
			}
			rules = append(rules, r)
		}
		if last := pts[len(pts)-1]; last.exec == "direct" {
			// Direct won the largest size measured, but nothing bounds
			// the calls beyond it: direct keeps them only up to the work
			// at which it would reach maxDirect, assuming time grows in
			// proportion to work; the rest go where the largest size ran
			// best off direct.
			us := best[[2]any{op, last.work}].MedianUS
			bound := 2 * math.Max(last.work, 1)
			if us > 0 {
				bound = math.Max(last.work, 1) * float64(maxDirect) / float64(time.Microsecond) / us
			}
			rules[len(rules)-1].BelowWork = bound
			rules = append(rules, Rule{Exec: bestOffDirect(ms, op, last.work)})
		}
		p.Ops[op] = rules
	}
	return p
}

// bestOffDirect returns the executor other than direct with the lowest
// median for op at work, or pool when none was measured.
func bestOffDirect(ms []Measurement, op string, work float64) string {
	exec, us := "pool", math.Inf(1)
	for _, m := range ms {
		if m.Op == op && m.Work == work && m.Exec != "direct" && m.MedianUS < us {
			exec, us = m.Exec, m.MedianUS
		}
	}
	return exec
}

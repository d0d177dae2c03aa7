package kernels

import (
	"math"

	"github.com/crunchsvc/crunch/cgo"
	"github.com/crunchsvc/crunch/service/wire"
)

// modsum is the reference CPU-heavy loop: Σ over i < iters of (i·n) mod 97.
var modsum = &Op{
	Name:    "modsum",
	Summary: "sum of (i*n) mod 97 over i < iters: a stand-in for heavy CPU work",
	Doc:     "sum over 0 <= i < iters of (i*n) mod 97 (non-negative modulo): a stand-in for heavy CPU work",
	Params: []Param{
		{Name: "n", Kind: "int", Required: true, Doc: "multiplier, any int64"},
		{Name: "iters", Kind: "int", Default: int64(10_000_000), Min: bound(0), Doc: "number of terms"},
	},
	Results: []Param{{Name: "total", Kind: "int", Doc: "the sum"}},
	Impls:   []string{ImplC, ImplGo},
	Bind:    prepareModsum,
}

func init() { defaultRegistry.Register(modsum) }

func prepareModsum(args Args) (*Call, error) {
	n, iters := args.Int("n"), args.Int("iters")
	result := func(total int64, err error) (wire.Result, error) {
		if err != nil {
			return nil, fromC("modsum", err)
		}
		return wire.Result{"total": wire.Int(total)}, nil
	}
	return &Call{Work: float64(iters), OutElems: 1, run: map[string]RunFunc{
		ImplC:  func(x *cgo.Ctx, _ Out) (wire.Result, error) { return result(cgo.Modsum(x, n, iters)) },
		ImplGo: func(x *cgo.Ctx, _ Out) (wire.Result, error) { return result(ModsumGo(x, n, iters)) },
	}}, nil
}

// ModsumGo is the plain Go modsum: the loop as the FastAPI comparison server writes it, with
// the modulo taken exactly for every int64 n. It polls x every 2^20 terms.
func ModsumGo(x *cgo.Ctx, n, iters int64) (int64, error) {
	if iters < 0 {
		return 0, cgo.ErrInvalid
	}
	const mod = 97
	r := (n%mod + mod) % mod // (i*n) mod 97 == ((i mod 97)*r) mod 97, without overflow
	const block = 1 << 20
	x.Begin(iters)
	var total int64
	for start := int64(0); start < iters; {
		if x.Canceled() {
			return 0, canceled
		}
		end := start + min(block, iters-start)
		var sum int64
		for i := start; i < end; i++ {
			sum += (i % mod) * r % mod
		}
		if total > math.MaxInt64-sum {
			return 0, cgo.ErrRange
		}
		total += sum
		x.Add(end - start)
		start = end
	}
	return total, nil
}

package conform

import (
	"fmt"
	"math"
	"math/big"

	"github.com/crunchsvc/crunch/service/wire"
)

// modsumCases: n at zero, the modulus, both signs and the int64 ends;
// iteration counts around the C loop's unrolling and past a poll interval.
func modsumCases() []Case {
	var cases []Case
	for _, n := range []int64{0, 1, 7, -7, 97, -98, -12345, math.MaxInt64, math.MinInt64} {
		for _, iters := range []int64{0, 1, 2, 16, 17, 97, 1000, 65537, 100_003} {
			cases = append(cases, Case{
				Name: fmt.Sprintf("n=%d iters=%d", n, iters),
				Size: int(iters),
				Build: func() (wire.Args, Check) {
					want := modsumRef(n, iters)
					return wire.Args{"n": wire.Int(n), "iters": wire.Int(iters)}, ok(func(res wire.Result) error {
						got, err := res.Int("total", 0)
						if err != nil {
							return err
						}
						if got != want {
							return fmt.Errorf("total %d, want %d", got, want)
						}
						return nil
					})
				},
			})
		}
	}
	return cases
}

// modsumRef is the definition in exact integer arithmetic: big.Int's Mod
// is Euclidean, so the remainder is the non-negative one.
func modsumRef(n, iters int64) int64 {
	var s int64
	bn, p, m := big.NewInt(n), new(big.Int), big.NewInt(97)
	for i := int64(0); i < iters; i++ {
		s += p.Mod(p.Mul(big.NewInt(i), bn), m).Int64()
	}
	return s
}

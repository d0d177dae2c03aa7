package bench

import (
	"testing"

	"github.com/crunchsvc/crunch/cgo"
)

// benchEachISA runs call as the sub-benchmark "impl=c-<path><suffix>" on
// every SIMD path this machine has, single-threaded: the ctx is reset and
// set to the path before each call. report then adds the sub-benchmark's
// metrics.
func benchEachISA(b *testing.B, suffix string, call func(*cgo.Ctx) error, report func(*testing.B)) {
	for _, isa := range cgo.ISAs() {
		b.Run("impl=c-"+isa.String()+suffix, func(b *testing.B) {
			c := cgo.NewCtx()
			for b.Loop() {
				c.Reset()
				c.SetISA(isa)
				if err := call(c); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
	}
}

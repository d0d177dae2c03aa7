package executor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/service/kernels"
)

func BenchmarkProbeSpin(b *testing.B) {
	empty := modsumJob(b, 1, 0, kernels.ImplC)
	for _, spin := range []time.Duration{-1, 20 * time.Microsecond, 50 * time.Microsecond, 200 * time.Microsecond} {
		sub, _ := newSub(b, SubprocessConfig{Workers: 1, Spin: spin})
		b.Run(fmt.Sprint(spin), func(b *testing.B) {
			for b.Loop() {
				if _, err := sub.Run(context.Background(), empty); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

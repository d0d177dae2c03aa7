package testutil

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// Storm runs good+bad jobs in an order that shuffle picks (the same
// order for the same shuffle), on workers goroutines: job(w, i) runs job i on goroutine w, a good job for i < good
// and a bad one (a crash, a worker's death) otherwise, and returns nil if
// it ended as it should, else what went wrong. Each job that did not, and
// totals short of good and bad, fail the test.
func Storm(t testing.TB, good, bad, workers int, shuffle uint64, job func(w, i int) error) {
	t.Helper()
	order := rand.New(rand.NewPCG(shuffle, shuffle+1)).Perm(good + bad)
	feed := make(chan int)
	go func() {
		for _, i := range order {
			feed <- i
		}
		close(feed)
	}()
	var mu sync.Mutex
	goodOK, badOK := 0, 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range feed {
				err := job(w, i)
				mu.Lock()
				switch {
				case err != nil:
					t.Errorf("job %d (bad %v): %v", i, i >= good, err)
				case i < good:
					goodOK++
				default:
					badOK++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if goodOK != good || badOK != bad {
		t.Errorf("%d bad jobs and %d good ones ended as they should, want %d and %d", badOK, goodOK, bad, good)
	}
}

// Concurrently runs f(0) to f(n-1), each on a goroutine of its own, waits
// for them all and reports every error they return.
func Concurrently(t testing.TB, n int, f func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

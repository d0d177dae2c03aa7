package main

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crunchsvc/crunch/service/client"
	"github.com/crunchsvc/crunch/service/kernels"
)

// TestFastAPISystems starts each FastAPI comparison system as the end-to-end mode
// does and checks a few modsum answers from several connections at once.
func TestFastAPISystems(t *testing.T) {
	systems, missing := fastapiSystems(&env{})
	if missing != "" {
		t.Skip(missing)
	}
	var names []string
	for _, s := range systems {
		names = append(names, s.Name)
	}
	if want := []string{"fastapi inline", "fastapi thread", "fastapi process"}; !slices.Equal(names, want) {
		t.Fatalf("systems %q, want %q", names, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range systems {
		t.Run(s.Name, func(t *testing.T) {
			if s.Exec != "" || !slices.Equal(s.Ops, []string{"modsum"}) {
				t.Errorf("exec %q, ops %q: want none and modsum", s.Exec, s.Ops)
			}
			srv, err := s.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop()
			var wg sync.WaitGroup
			for conn := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := client.Dial(ctx, srv.Addr)
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					if _, err := c.Ping(ctx); err != nil {
						t.Errorf("ping: %v", err)
					}
					for k := range 3 {
						n, iters := int64(1_000_003+conn), int64(10_000*(k+1))
						total, _, err := c.Modsum(ctx, n, iters, &client.Options{Exec: s.Exec, Timeout: time.Minute})
						if err != nil {
							t.Errorf("modsum(%d, %d): %v", n, iters, err)
						} else if want, _ := kernels.ModsumGo(nil, n, iters); total != want {
							t.Errorf("modsum(%d, %d) = %d, want %d", n, iters, total, want)
						}
					}
				}()
			}
			wg.Wait()
			if err := srv.Stop(); err != nil {
				t.Errorf("stopping: %v", err)
			}
		})
	}
}

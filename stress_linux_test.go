package nsrun_test

import (
	"sync"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationStressThreadsComeBack runs many concurrent Do, Go and Run
// calls across several namespaces, some failing or panicking, then checks
// that every OS thread of the process is back in the host namespace.
func TestIntegrationStressThreadsComeBack(t *testing.T) {
	testenv.RequirePrivilege(t)
	nss := []*nsrun.Namespace{newNS(t), newNS(t), newNS(t), newNS(t)}
	want := map[*nsrun.Namespace]nsthread.ID{}
	for _, n := range nss {
		want[n] = idOf(t, n) // read here: the workers must not call t.FailNow
	}
	const workers, rounds = 32, 200
	var wg sync.WaitGroup
	errs := make(chan string, workers*rounds)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				n := nss[(w+r)%len(nss)]
				check := func() error {
					if cur, err := current(); err != nil || cur != want[n] {
						errs <- "wrong namespace inside"
					}
					return nil
				}
				switch r % 4 {
				case 0:
					n.Do(check)
				case 1:
					<-n.Go(check)
				case 2:
					func() {
						defer func() { recover() }()
						n.Do(func() error { check(); panic("stress") })
					}()
				case 3:
					n.Do(func() error { check(); return assert.AnError })
				}
			}
		}(w)
	}
	for _, n := range nss {
		t.Run("run", func(t *testing.T) {
			for j := 0; j < 8; j++ {
				nstest.Run(t, n, "pinned", func(t *testing.T) {
					t.Parallel()
					cur, err := current()
					require.NoError(t, err)
					assert.Equal(t, want[n], cur)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	assert.Empty(t, leakcheck.TaintedThreads(), "every thread is back in the host namespace")
}

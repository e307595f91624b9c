//go:build !linux

package nstest_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...); runtime.Goexit() }

func TestHelpersSkipOffLinux(t *testing.T) {
	want := "network namespaces need Linux (this is " + runtime.GOOS + ")"
	for name, helper := range map[string]func(testing.TB){
		"New":              func(tb testing.TB) { nstest.New(tb) },
		"Topology":         func(tb testing.TB) { nstest.Topology(tb, fixture.Pair("a", "b")) },
		"RequirePrivilege": nstest.RequirePrivilege,
	} {
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); helper(r) }()
		<-done
		if testenv.Strict() {
			assert.Equal(t, want, r.failed, name)
		} else {
			assert.Equal(t, want, r.skipped, name)
		}
	}
	if !testenv.Strict() { // under NSTEST_STRICT=1 the subtest fails
		nstest.Run(t, nil, "Run", func(t *testing.T) { t.Error("ran off Linux") })
	}
}

package relay_test

import (
	"testing"

	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/nstest"
)

// TestMain runs the tests, rootless when this process lacks the privilege
// (nstest.Main), and fails the run if a namespace or link is left.
func TestMain(m *testing.M) {
	nstest.Main(leakcheck.Wrap(m))
}

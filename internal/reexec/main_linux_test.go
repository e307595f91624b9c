package reexec_test

import (
	"testing"

	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/nstest"
)

// TestMain checks for leftovers after the tests, as every package's does,
// and removes this process's owner file (the tests make namespaces).
func TestMain(m *testing.M) { nstest.Main(leakcheck.Wrap(m)) }

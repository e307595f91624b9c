//go:build !linux

package nstest

import (
	"testing"

	"github.com/nsrun/nsrun"
)

// PauseEnv names the environment variable that, set to 1, makes a failed
// test wait before its namespaces are removed (see New). Mind go test's
// -timeout, which keeps running while the test waits: use -timeout 0.
const PauseEnv = "NSTEST_PAUSE_ON_FAILURE"

func reportFailure(testing.TB, string, map[string]*nsrun.Namespace, string) {}

//go:build !linux

package nstest

import (
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/fixture"
)

// Capture skips the test off Linux (see the Linux file for the docs).
func Capture(tb testing.TB) {
	tb.Helper()
	RequirePrivilege(tb)
}

func watch(testing.TB, map[string]*nsrun.Namespace) {}

func watchTopology(testing.TB, *fixture.Fixture) {}

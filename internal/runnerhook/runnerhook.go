// Package runnerhook gives cmd/nsrun what package runner must not export.
// runner sets the variable in its init; importing runner therefore
// guarantees it is set.
package runnerhook

import "github.com/nsrun/nsrun"

// CommandNamed returns a *runner.Cmd, as cmd, that runs args inside the
// namespace that will be called netns, so that its reaper can start while
// the namespace is still being made, which hides most of its start-up
// (about a millisecond of `nsrun -- true`). Start starts the reaper, which
// prepares what does not depend on the namespace and waits; enter, called
// once after Start, hands it ns, which must be called netns, and the
// payload starts. On error enter ends the reaper and waits for it; the
// error is a *runner.Error, the reaper's own if it failed first. A Cmd that
// is never entered is ended with Kill and Wait. The Cmd must keep its PID
// namespace (no NoPIDNamespace): without one the name would be missing
// from the payload's view of the namespace directory.
var CommandNamed func(netns string, args []string) (cmd any, enter func(ns *nsrun.Namespace) error)

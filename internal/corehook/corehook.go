// Package corehook gives this module's own packages what the core (package
// nsrun) must not export. nsrun sets the variables in its init; importing
// nsrun therefore guarantees they are set.
package corehook

// Pin locks the calling goroutine to its thread and switches that thread
// into ns, which must be a *nsrun.Namespace that is open. The returned exit
// function must be called once, on the same goroutine, before it ends: it
// switches back, verifies the switch, and unlocks; if that fails the thread
// stays locked and dies with the goroutine. nstest.Run uses it to pin a
// subtest's own goroutine, which Do cannot do.
var Pin func(ns any) (exit func() error, err error)

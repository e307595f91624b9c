package runner

import (
	"context"
	"os"
	"syscall"
	"time"
)

// Run starts c (unless Start was called) and waits for it, supervising it
// as nsrun does:
//
//   - each signal received on sigs is forwarded to the payload's group;
//     a second SIGINT kills the whole tree at once, and so does Grace
//     passing after a SIGTERM;
//   - after Timeout, the payload gets SIGTERM, then SIGKILL after Grace,
//     and Status.TimedOut is set (ExitCode 124);
//   - ctx being done acts like a SIGTERM.
//
// sigs may be nil; the caller registers it with signal.Notify (usually for
// SIGINT, SIGTERM, SIGHUP and SIGQUIT, the signals the reaper forwards)
// before creating the namespace, so that no signal is lost.
// Errors are as for Start and Wait.
func (c *Cmd) Run(ctx context.Context, sigs <-chan os.Signal) (Status, error) {
	if c.proc == nil {
		if err := c.Start(); err != nil {
			return Status{}, err
		}
	}
	type result struct {
		st  Status
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := c.Wait()
		done <- result{st, err}
	}()
	s := supervisor{c: c, ctxDone: ctx.Done(), ready: c.proc.Ready()}
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		s.timeout = t.C
	}
	for {
		select {
		case r := <-done:
			s.stopGrace()
			return r.st, r.err
		case sig := <-sigs:
			s.forward(sig)
		case <-s.timeout:
			s.timeout = nil
			c.timedOut.Store(true)
			s.terminate()
		case <-s.ctxDone:
			s.ctxDone = nil
			s.terminate()
		case <-s.graceC:
			s.graceC = nil
			_ = c.Kill()
		case <-s.ready:
			s.ready = nil
			for _, sig := range s.pending {
				_ = c.Signal(sig)
			}
		}
	}
}

// supervisor is Run's escalation state.
type supervisor struct {
	c       *Cmd
	ctxDone <-chan struct{}
	timeout <-chan time.Time
	grace   *time.Timer
	graceC  <-chan time.Time
	ints    int
	ready   <-chan struct{}  // nil once the reaper forwards signals
	pending []syscall.Signal // received before that, sent then
}

// send forwards sig now, or once the reaper listens: the loop must not
// block, so that a second SIGINT can still kill a reaper stuck in setup.
func (s *supervisor) send(sig syscall.Signal) {
	if s.ready != nil {
		s.pending = append(s.pending, sig)
		return
	}
	_ = s.c.Signal(sig)
}

// forward passes sig on, escalating on a second SIGINT and arming the
// grace period on SIGTERM.
func (s *supervisor) forward(sig os.Signal) {
	ss, ok := sig.(syscall.Signal)
	if !ok {
		return
	}
	if ss == syscall.SIGINT {
		s.ints++
		if s.ints > 1 {
			_ = s.c.Kill()
			return
		}
	}
	if ss == syscall.SIGTERM {
		s.terminate()
		return
	}
	s.send(ss)
}

// terminate sends SIGTERM and starts the grace period, once.
func (s *supervisor) terminate() {
	s.send(syscall.SIGTERM)
	if s.grace != nil {
		return
	}
	d := s.c.Grace
	if d <= 0 {
		d = DefaultGrace
	}
	s.grace = time.NewTimer(d)
	s.graceC = s.grace.C
}

// stopGrace releases the grace timer.
func (s *supervisor) stopGrace() {
	if s.grace != nil {
		s.grace.Stop()
	}
}

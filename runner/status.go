package runner

import (
	"fmt"
	"syscall"
	"time"

	"github.com/nsrun/nsrun/internal/reexec"
)

// DefaultGrace is how long Run lets the payload shut down cleanly when
// Cmd.Grace is zero: the time between the SIGTERM it passes on (forwarded,
// after Timeout, or when its context is done) and the SIGKILL that ends the
// whole tree. It is long because the payload is expected to handle SIGTERM;
// it has nothing to do with the core's WithKillGrace (1 s by default), the
// time Delete gives processes still inside a namespace it removes.
const DefaultGrace = 10 * time.Second

// codeTimeout is the exit code after Cmd.Timeout, as timeout(1) uses it.
const codeTimeout = 124

// Status is how a payload ended.
type Status struct {
	Code     int            // exit code, if the payload exited
	Signal   syscall.Signal // non-zero if the payload was killed by this signal
	TimedOut bool           // the payload was stopped because Cmd.Timeout passed
	Killed   bool           // the runner escalated to SIGKILL (grace passed, second SIGINT, Kill)
}

// ExitCode returns the status as a shell reports it: 124 after a timeout
// (as timeout(1)), 128+N after death by signal N, else the payload's exit
// code.
func (s Status) ExitCode() int {
	switch {
	case s.TimedOut:
		return codeTimeout
	case s.Signal != 0:
		return 128 + int(s.Signal)
	}
	return s.Code
}

// String describes the status in words: "exit status 3", "signal: killed".
func (s Status) String() string {
	msg := fmt.Sprintf("exit status %d", s.Code)
	if s.Signal != 0 {
		msg = "signal: " + s.Signal.String()
	}
	if s.TimedOut {
		msg += " (timed out)"
	}
	return msg
}

// Error is a failure that kept the payload from running or from being
// supervised. Code is the exit code for it, as env(1) uses them: 125 when
// the runner itself failed, 126 when the command was found but could not
// be executed, 127 when it was not found. Callers get it with errors.As.
type Error struct {
	Code int
	Err  error
}

// Error returns the underlying message; callers prefix it with their name.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// failed wraps err as a runner failure (exit code 125).
func failed(format string, a ...any) *Error {
	return &Error{Code: reexec.CodeFailed, Err: fmt.Errorf(format, a...)}
}

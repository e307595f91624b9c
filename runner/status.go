package runner

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/nsrun/nsrun/runner/internal/reaper"
)

// Exit codes of failures that are not the payload's own, as env(1) and
// timeout(1) use them.
const (
	CodeTimeout       = 124                      // the payload was stopped by Cmd.Timeout
	CodeFailed        = reaper.CodeFailed        // the runner itself failed: 125
	CodeNotExecutable = reaper.CodeNotExecutable // the command was found but could not be executed: 126
	CodeNotFound      = reaper.CodeNotFound      // the command was not found: 127
)

// Forwarded lists the signals the reaper passes on to the payload's group.
var Forwarded = reaper.Forwarded

// Status is how a payload ended.
type Status struct {
	Code     int            // exit code, if the payload exited
	Signal   syscall.Signal // non-zero if the payload was killed by this signal
	TimedOut bool           // the payload was stopped because Cmd.Timeout passed
	Killed   bool           // the runner escalated to SIGKILL (grace passed, second SIGINT, Kill)
}

// ExitCode returns the status as a shell reports it: CodeTimeout after a
// timeout, 128+N after death by signal N, else the payload's exit code.
func (s Status) ExitCode() int {
	switch {
	case s.TimedOut:
		return CodeTimeout
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
// supervised. Code is CodeFailed, CodeNotExecutable or CodeNotFound.
type Error struct {
	Code int
	Err  error
}

// Error returns the underlying message; callers prefix it with their name.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the exit code nsrun uses for err: the Code of an
// *Error, CodeFailed for any other non-nil error, 0 for nil.
func ErrorCode(err error) int {
	var e *Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.Code
	}
	return CodeFailed
}

// failed wraps err as a runner failure (exit code 125).
func failed(format string, a ...any) *Error {
	return &Error{Code: CodeFailed, Err: fmt.Errorf(format, a...)}
}

// statusOf converts a wait status.
func statusOf(ws syscall.WaitStatus) Status {
	if ws.Signaled() {
		return Status{Signal: ws.Signal()}
	}
	return Status{Code: ws.ExitStatus()}
}

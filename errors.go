package nsrun

import "errors"

// Errors that callers test for with errors.Is. Every error also says what
// was being done and names the namespace, option or file involved.
var (
	// ErrInvalid matches an invalid name, option or argument. Nothing was
	// changed: validation runs before any kernel work.
	ErrInvalid = errors.New("invalid argument")
	// ErrClosed matches the use of a Namespace after Close or Delete.
	ErrClosed = errors.New("namespace closed")
	// ErrNotSupported matches a feature the operating system or kernel
	// lacks: every function on an OS other than Linux, for example.
	ErrNotSupported = errors.New("not supported")
)

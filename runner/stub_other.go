//go:build !linux

// The API of the Linux files, for programs that must build on every OS:
// each call fails with an *Error matching nsrun.ErrNotSupported (see the
// Linux files for the docs).

package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/nsrun/nsrun"
)

var errNotLinux = fmt.Errorf("network namespaces need Linux (this is %s): %w", runtime.GOOS, nsrun.ErrNotSupported)

// Cmd has the exported fields of the Linux Cmd; off Linux it cannot start.
type Cmd struct {
	Args           []string
	Env            []string
	Dir            string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Credential     any // a *syscall.Credential, which Windows lacks
	UserNamespace  bool
	Hostname       string
	NoPIDNamespace bool
	Expose         []*nsrun.Namespace
	Timeout        time.Duration
	Grace          time.Duration
}

// Command returns a Cmd whose Start fails off Linux.
func Command(ns *nsrun.Namespace, name string, arg ...string) *Cmd {
	return &Cmd{Args: append([]string{name}, arg...)}
}

// Start fails off Linux.
func (c *Cmd) Start() error { return failed("start: %w", errNotLinux) }

// Run fails off Linux.
func (c *Cmd) Run(ctx context.Context, sigs <-chan os.Signal) (Status, error) {
	return Status{}, c.Start()
}

// Signal fails off Linux.
func (c *Cmd) Signal(sig syscall.Signal) error { return failed("signal: %w", errNotLinux) }

// Kill fails off Linux.
func (c *Cmd) Kill() error { return c.Signal(syscall.SIGKILL) }

// Wait fails off Linux.
func (c *Cmd) Wait() (Status, error) { return Status{}, failed("wait: %w", errNotLinux) }

// Pid returns 0 off Linux.
func (c *Cmd) Pid() int { return 0 }

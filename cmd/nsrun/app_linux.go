package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/runner"
)

// app holds what every subcommand shares: the standard streams and -v.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	verbose        bool
	mu             sync.Mutex // serialises our own lines on stderr
}

// subcommand runs one subcommand with the arguments after its name and
// returns the exit code.
type subcommand func(a *app, ctx context.Context, args []string) int

// subcommands maps the first argument to a subcommand. Any other first
// argument is a command to run (`nsrun -- ls` runs ls).
var subcommands = map[string]subcommand{
	"exec":   (*app).execCmd,
	"ls":     (*app).lsCmd,
	"gc":     (*app).gcCmd,
	"up":     (*app).upCmd,
	"down":   (*app).downCmd,
	"schema": (*app).schemaCmd,
	"graph":  (*app).graphCmd,
}

// run is nsrun's main, with its environment passed in so tests can drive
// it. It returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	// The owner file the namespaces' records link to goes when the last of
	// them has (a kept namespace keeps it).
	defer func() { _ = owner.Release() }()
	if len(args) > 0 && args[0] == "help" {
		return a.helpCmd(ctx, args[1:])
	}
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			return sub(a, ctx, args[1:])
		}
	}
	return a.runCmd(ctx, args)
}

// logf writes a -v message.
func (a *app) logf(format string, args ...any) {
	if a.verbose {
		a.mu.Lock()
		defer a.mu.Unlock()
		fmt.Fprintf(a.stderr, "nsrun: "+format+"\n", args...)
	}
}

// fail reports err as nsrun's own failure, on one line, and returns its
// exit code (see exitCode).
func (a *app) fail(err error) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(a.stderr, "nsrun: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	return exitCode(err)
}

// exitCode returns nsrun's exit code for its own failure err: the Code of
// a *runner.Error (126 or 127 when the command could not be executed or
// found), else 125.
func exitCode(err error) int {
	if e := (*runner.Error)(nil); errors.As(err, &e) {
		return e.Code
	}
	return reexec.CodeFailed
}

// usageError is a mistake on the command line.
type usageError struct{ msg, cmd string }

func (e usageError) Error() string {
	return fmt.Sprintf("%s (see %s --help)", e.msg, e.cmd)
}

// flagSet returns a FlagSet that reports errors through parse only.
func flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args. done reports that the caller should return code now:
// after --help (0) or a bad flag (125).
func (a *app) parse(fs *flag.FlagSet, args []string, usage string) (code int, done bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(a.stdout, strings.TrimLeft(usage, "\n"))
		defined := false // nsrun schema has no flags
		fs.VisitAll(func(*flag.Flag) { defined = true })
		if defined {
			fmt.Fprintln(a.stdout, "\nFlags:")
			fs.SetOutput(a.stdout)
			fs.PrintDefaults()
		}
		return 0, true
	}
	if err != nil {
		return a.fail(usageError{err.Error(), fs.Name()}), true
	}
	return 0, false
}

// helpCmd prints the overview, or a subcommand's help.
func (a *app) helpCmd(ctx context.Context, args []string) int {
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			return sub(a, ctx, []string{"--help"})
		}
	}
	return a.runCmd(ctx, []string{"--help"})
}

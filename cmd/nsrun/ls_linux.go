package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/owner"
)

// lsEntry is one line of nsrun ls.
type lsEntry struct {
	Name      string    `json:"name"`
	Creator   string    `json:"creator"`
	PID       int       `json:"owner_pid"`
	Owner     string    `json:"owner"` // "alive", "dead" or "kept"
	Created   time.Time `json:"created"`
	AgeSec    float64   `json:"age_seconds"`
	Processes int       `json:"processes"`
	Command   []string  `json:"command,omitempty"`
	Rootless  string    `json:"rootless_topology,omitempty"` // the user's rootless run that holds it
}

// lsCmd is nsrun ls [--json].
func (a *app) lsCmd(_ context.Context, args []string) int {
	fs := flagSet("nsrun ls")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := a.parse(fs, args, lsUsage); done {
		return code
	}
	if fs.NArg() > 0 {
		return a.fail(usageError{"unexpected argument " + fs.Arg(0), "nsrun ls"})
	}
	var entries []lsEntry
	if rootless() {
		var err error
		if entries, err = a.lsRootless(); err != nil {
			return a.fail(err)
		}
	} else {
		recs, err := owner.List()
		if err != nil {
			return a.fail(fmt.Errorf("list namespaces: %w", err))
		}
		for _, r := range recs {
			entries = append(entries, entryOf(r))
		}
	}
	if entries == nil {
		entries = []lsEntry{}
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			return a.fail(fmt.Errorf("write list: %w", err))
		}
		return 0
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tCREATOR\tOWNER PID\tOWNER\tAGE\tPROCS\tCOMMAND")
	for _, e := range entries {
		age := time.Duration(e.AgeSec * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%d\t%s\n", e.Name, e.Creator, e.PID, e.Owner, age, e.Processes, strings.Join(e.Command, " "))
	}
	if err := w.Flush(); err != nil {
		return a.fail(fmt.Errorf("write list: %w", err))
	}
	return 0
}

// entryOf describes a record for ls.
func entryOf(r owner.Record) lsEntry {
	owner := "dead"
	switch {
	case r.Kept:
		owner = "kept"
	case r.OwnerAlive():
		owner = "alive"
	}
	pids, _ := nsrun.Pids(r.Name)
	return lsEntry{
		Name: r.Name, Creator: r.Creator, PID: r.PID, Owner: owner, Created: r.Created,
		AgeSec: time.Since(r.Created).Seconds(), Processes: len(pids), Command: r.Command,
	}
}

// gcCmd is nsrun gc [--dry-run].
func (a *app) gcCmd(_ context.Context, args []string) int {
	fs := flagSet("nsrun gc")
	dry := fs.Bool("dry-run", false, "only say what would be removed")
	fs.BoolVar(&a.verbose, "v", false, "verbose (no effect: gc always says what it removes)")
	if code, done := a.parse(fs, args, gcUsage); done {
		return code
	}
	if fs.NArg() > 0 {
		return a.fail(usageError{"unexpected argument " + fs.Arg(0), "nsrun gc"})
	}
	if rootless() {
		return a.gcRootless(*dry)
	}
	swept, err := owner.Sweep(*dry, nsrun.DeleteNamed)
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	for _, r := range swept {
		fmt.Fprintf(a.stdout, "%s %s (made by %s, owner pid %d is gone)\n", verb, r.Name, r.Creator, r.PID)
	}
	if err != nil {
		return a.fail(fmt.Errorf("remove leftovers: %w", err))
	}
	return 0
}

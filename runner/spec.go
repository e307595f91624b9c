package runner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// spec is what the reaper needs besides the payload's environment and
// working directory, which are its own. It travels in the reaper's argv,
// so the reaper never waits for its parent to send it anything.
type spec struct {
	Netns        string
	Hostname     string
	PIDNamespace bool
	Foreground   bool
	Cred         *syscall.Credential
	// With PIDNamespace: the namespace and record directories to replace
	// by private ones, and the names to keep visible in the former.
	NetnsDir, RecordDir string
	Expose              []string
	Args                []string
}

// specFields is the number of argv words before the payload's arguments.
const specFields = 8

// argv encodes s as the reaper's command line: marker, netns, hostname,
// flags ("p" PID namespace, "f" foreground), credentials ("" or
// "uid:gid:g1,g2"), namespace directory, record directory, exposed names
// joined by "/" (which no name contains), then the payload's arguments.
func (s spec) argv() []string {
	flags := ""
	if s.PIDNamespace {
		flags += "p"
	}
	if s.Foreground {
		flags += "f"
	}
	cred := ""
	if s.Cred != nil {
		groups := make([]string, len(s.Cred.Groups))
		for i, g := range s.Cred.Groups {
			groups[i] = strconv.FormatUint(uint64(g), 10)
		}
		cred = fmt.Sprintf("%d:%d:%s", s.Cred.Uid, s.Cred.Gid, strings.Join(groups, ","))
	}
	head := []string{reaperMarker, s.Netns, s.Hostname, flags, cred, s.NetnsDir, s.RecordDir, strings.Join(s.Expose, "/")}
	return append(head, s.Args...)
}

// parseSpec decodes argv as written by argv.
func parseSpec(argv []string) (spec, error) {
	if len(argv) <= specFields || argv[0] != reaperMarker {
		return spec{}, errors.New("parse reaper arguments: too few")
	}
	s := spec{
		Netns: argv[1], Hostname: argv[2], Args: argv[specFields:],
		PIDNamespace: strings.Contains(argv[3], "p"), Foreground: strings.Contains(argv[3], "f"),
		NetnsDir: argv[5], RecordDir: argv[6],
	}
	if argv[7] != "" {
		s.Expose = strings.Split(argv[7], "/")
	}
	if argv[4] == "" {
		return s, nil
	}
	f := strings.Split(argv[4], ":")
	if len(f) != 3 {
		return spec{}, fmt.Errorf("parse reaper credentials %q", argv[4])
	}
	ids := []uint32{}
	for _, v := range append(f[:2:2], strings.Split(f[2], ",")...) {
		if v == "" {
			continue
		}
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return spec{}, fmt.Errorf("parse reaper credentials: %w", err)
		}
		ids = append(ids, uint32(id))
	}
	if len(ids) < 2 {
		return spec{}, fmt.Errorf("parse reaper credentials %q", argv[4])
	}
	s.Cred = &syscall.Credential{Uid: ids[0], Gid: ids[1], Groups: ids[2:]}
	return s, nil
}

// report is what the reaper sends back on its report pipe, one line: the
// payload's status ("done CODE SIGNAL"), or why it could not run
// ("err CODE MESSAGE", CODE being 125-127). A reaper that execs the
// payload (no PID namespace) or dies sends nothing.
type report struct {
	Done   bool
	Code   int
	Signal int
	Err    string
}

// readyLine is the reaper's first line, once it forwards signals.
const readyLine = "ready\n"

// encode returns the report's line.
func (r report) encode() string {
	if r.Err != "" {
		return fmt.Sprintf("err %d %s\n", r.Code, strings.ReplaceAll(r.Err, "\n", " "))
	}
	return fmt.Sprintf("done %d %d\n", r.Code, r.Signal)
}

// decodeReport parses a report line; anything else is the zero report.
func decodeReport(line string) report {
	f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 3)
	if len(f) != 3 {
		return report{}
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return report{}
	}
	switch f[0] {
	case "err":
		return report{Code: code, Err: f[2]}
	case "done":
		sig, err := strconv.Atoi(f[2])
		if err == nil {
			return report{Done: true, Code: code, Signal: sig}
		}
	}
	return report{}
}

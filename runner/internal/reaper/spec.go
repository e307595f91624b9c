package reaper

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Spec is what the reaper needs besides the payload's environment and
// working directory, which are its own, and the network namespace, which
// it receives on its fd 4. It travels in the reaper's argv.
type Spec struct {
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

// Argv encodes s as the reaper's command line: Marker, netns, hostname,
// flags ("p" PID namespace, "f" foreground), credentials ("" or
// "uid:gid:g1,g2"), namespace directory, record directory, exposed names
// joined by "/" (which no name contains), then the payload's arguments.
func (s Spec) Argv() []string {
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
	head := []string{Marker, s.Netns, s.Hostname, flags, cred, s.NetnsDir, s.RecordDir, strings.Join(s.Expose, "/")}
	return append(head, s.Args...)
}

// ParseSpec decodes argv as written by Argv.
func ParseSpec(argv []string) (Spec, error) {
	if len(argv) <= specFields || argv[0] != Marker {
		return Spec{}, errors.New("parse reaper arguments: too few")
	}
	s := Spec{
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
		return Spec{}, fmt.Errorf("parse reaper credentials %q", argv[4])
	}
	ids := []uint32{}
	for _, v := range append(f[:2:2], strings.Split(f[2], ",")...) {
		if v == "" {
			continue
		}
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return Spec{}, fmt.Errorf("parse reaper credentials: %w", err)
		}
		ids = append(ids, uint32(id))
	}
	if len(ids) < 2 {
		return Spec{}, fmt.Errorf("parse reaper credentials %q", argv[4])
	}
	s.Cred = &syscall.Credential{Uid: ids[0], Gid: ids[1], Groups: ids[2:]}
	return s, nil
}

// Report is what the reaper sends back on its report pipe, one line: the
// payload's status ("done CODE SIGNAL"), or why it could not run
// ("err CODE MESSAGE", CODE being 125-127). A reaper that execs the
// payload (no PID namespace) or dies sends nothing.
type Report struct {
	Done   bool
	Code   int
	Signal int
	Err    string
}

// ReadyLine is the reaper's first line, once it forwards signals.
const ReadyLine = "ready\n"

// Encode returns the report's line.
func (r Report) Encode() string {
	if r.Err != "" {
		return fmt.Sprintf("err %d %s\n", r.Code, strings.ReplaceAll(r.Err, "\n", " "))
	}
	return fmt.Sprintf("done %d %d\n", r.Code, r.Signal)
}

// DecodeReport parses a report line; anything else is the zero report.
func DecodeReport(line string) Report {
	f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 3)
	if len(f) != 3 {
		return Report{}
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return Report{}
	}
	switch f[0] {
	case "err":
		return Report{Code: code, Err: f[2]}
	case "done":
		sig, err := strconv.Atoi(f[2])
		if err == nil {
			return Report{Done: true, Code: code, Signal: sig}
		}
	}
	return Report{}
}

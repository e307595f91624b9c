package main

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// account is who the command runs as. Name and Home are empty for a
// numeric id without a passwd entry.
type account struct {
	uid, gid uint32
	groups   []uint32 // supplementary groups; nil means only gid
	name     string
	home     string
	nested   bool // the ids are given through a nested user namespace (rootless)
}

// credential returns the account's ids for runner.Cmd.Credential.
func (u *account) credential() *syscall.Credential {
	return &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}
}

// env returns env with HOME, USER and LOGNAME set for u, when known, so
// that caches and dotfiles land in the user's home rather than root's.
func (u *account) env(env []string) []string {
	if u.name == "" {
		return env
	}
	env = setenv(env, "USER", u.name)
	env = setenv(env, "LOGNAME", u.name)
	if u.home != "" {
		env = setenv(env, "HOME", u.home)
	}
	return env
}

// sudoUser returns the user who ran nsrun through sudo (SUDO_UID,
// SUDO_GID), or nil if nsrun was not run through sudo, runs as that user
// already, or the caller was root.
func sudoUser() (*account, error) {
	uid, gid := os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID")
	if uid == "" || uid == "0" || os.Geteuid() != 0 {
		return nil, nil
	}
	spec := uid
	if gid != "" {
		spec += ":" + gid
	}
	return lookupUser(spec)
}

// lookupUser resolves "USER", "UID", "USER:GROUP" or "UID:GID". A name must
// exist; a numeric id need not (it then runs with no supplementary groups).
// Without a group, the user's primary group is used.
func lookupUser(spec string) (*account, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	u, err := lookupUID(name)
	if err != nil {
		return nil, err
	}
	if hasGroup {
		gid, err := lookupGID(group)
		if err != nil {
			return nil, err
		}
		u.gid = gid
		u.groups = nil
	}
	return u, nil
}

// lookupUID resolves a user name or numeric id.
func lookupUID(name string) (*account, error) {
	if name == "" {
		return nil, fmt.Errorf("look up user: empty name")
	}
	pw, err := user.Lookup(name)
	if err != nil {
		id, perr := strconv.ParseUint(name, 10, 32)
		if perr != nil {
			return nil, fmt.Errorf("look up user %s: %w", name, err)
		}
		if pw, err = user.LookupId(name); err != nil {
			return &account{uid: uint32(id), gid: uint32(id)}, nil
		}
	}
	return fromPasswd(pw)
}

// fromPasswd converts an os/user entry, with its supplementary groups.
func fromPasswd(pw *user.User) (*account, error) {
	uid, err := strconv.ParseUint(pw.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse uid of %s: %w", pw.Username, err)
	}
	gid, err := strconv.ParseUint(pw.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse gid of %s: %w", pw.Username, err)
	}
	u := &account{uid: uint32(uid), gid: uint32(gid), name: pw.Username, home: pw.HomeDir}
	ids, _ := pw.GroupIds() // no groups is not an error worth failing for
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			u.groups = append(u.groups, uint32(g))
		}
	}
	return u, nil
}

// lookupGID resolves a group name or numeric id.
func lookupGID(group string) (uint32, error) {
	if id, err := strconv.ParseUint(group, 10, 32); err == nil {
		return uint32(id), nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("look up group %s: %w", group, err)
	}
	id, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("parse gid of %s: %w", group, err)
	}
	return uint32(id), nil
}

// sudoEnv returns the caller's own environment, PATH and virtualenv
// included, as it was before sudo reset it: the environment of the sudo
// process that started this one (the nearest ancestor named sudo), with the
// variables set on sudo's command line (`sudo VAR=x nsrun ...`, found in
// our environment) on top; those sudo itself sets (PATH, HOME, USER,
// LOGNAME, SHELL, MAIL, SUDO_*) are not taken from ours. ok is false when
// there is no such ancestor or its environment cannot be read. Give it only
// to a command that runs as the caller (see sudoUser), never to root.
func sudoEnv() (env []string, ok bool) {
	env, ok = sudoProcessEnv()
	if !ok {
		return nil, false
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if !sudoSets(k) {
			env = setenv(env, k, v)
		}
	}
	return env, true
}

// sudoSets reports whether sudo sets variable k itself when it resets the
// environment.
func sudoSets(k string) bool {
	switch k {
	case "PATH", "HOME", "USER", "LOGNAME", "SHELL", "MAIL":
		return true
	}
	return strings.HasPrefix(k, "SUDO_")
}

// setenv returns env with key set to value: the first entry for key is
// replaced where it stands and any later one dropped, or, without one,
// key=value is appended. env itself is not changed.
func setenv(env []string, key, value string) []string {
	kv := key + "=" + value
	i := slices.IndexFunc(env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
	if i < 0 {
		return append(env[:len(env):len(env)], kv)
	}
	out := append(env[:i:i], kv)
	for _, e := range env[i+1:] {
		if !strings.HasPrefix(e, key+"=") {
			out = append(out, e)
		}
	}
	return out
}

// sudoProcessEnv returns the environment the nearest sudo ancestor was
// started with.
func sudoProcessEnv() (env []string, ok bool) {
	pid := os.Getppid()
	for i := 0; i < 8 && pid > 1; i++ {
		p, err := procStat(pid)
		if err != nil {
			return nil, false
		}
		if p.comm == "sudo" {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
			if err != nil {
				return nil, false
			}
			return strings.FieldsFunc(string(b), func(r rune) bool { return r == 0 }), true
		}
		pid = p.ppid
	}
	return nil, false
}

// procInfo is what nsrun reads of a process in /proc/PID/stat.
type procInfo struct {
	comm  string
	state byte // R, S, D, Z...
	ppid  int
	start uint64 // start time, in clock ticks after boot
}

// procStat reads pid's /proc/PID/stat.
func procStat(pid int) (procInfo, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, err
	}
	s := string(b)
	// The command name may hold spaces and parentheses: fields are counted
	// after the last ')'.
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return procInfo{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[close+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return procInfo{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	p := procInfo{comm: s[open+1 : close], state: f[0][0]}
	if p.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procInfo{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	if p.start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return procInfo{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return p, nil
}

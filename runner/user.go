package runner

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// User is who the payload runs as. Name and Home are empty for a numeric
// id without a passwd entry.
type User struct {
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups; nil means only GID
	Name   string
	Home   string
}

// SudoUser returns the user who ran this program through sudo (SUDO_UID,
// SUDO_GID), or nil if the program was not run through sudo, runs as that
// user already, or the caller was root.
func SudoUser() (*User, error) {
	uid, gid := os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID")
	if uid == "" || uid == "0" || os.Geteuid() != 0 {
		return nil, nil
	}
	spec := uid
	if gid != "" {
		spec += ":" + gid
	}
	return LookupUser(spec)
}

// LookupUser resolves "USER", "UID", "USER:GROUP" or "UID:GID". A name must
// exist; a numeric id need not (it then runs with no supplementary groups).
// Without a group, the user's primary group is used.
func LookupUser(spec string) (*User, error) {
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
		u.GID = gid
		u.Groups = nil
	}
	return u, nil
}

// lookupUID resolves a user name or numeric id.
func lookupUID(name string) (*User, error) {
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
			return &User{UID: uint32(id), GID: uint32(id)}, nil
		}
	}
	return fromPasswd(pw)
}

// fromPasswd converts an os/user entry, with its supplementary groups.
func fromPasswd(pw *user.User) (*User, error) {
	uid, err := strconv.ParseUint(pw.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse uid of %s: %w", pw.Username, err)
	}
	gid, err := strconv.ParseUint(pw.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse gid of %s: %w", pw.Username, err)
	}
	u := &User{UID: uint32(uid), GID: uint32(gid), Name: pw.Username, Home: pw.HomeDir}
	ids, _ := pw.GroupIds() // no groups is not an error worth failing for
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			u.Groups = append(u.Groups, uint32(g))
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

// userEnv returns env with HOME, USER and LOGNAME set for u, when known, so
// that caches and dotfiles land in the user's home rather than root's.
func userEnv(env []string, u *User) []string {
	if u == nil || u.Name == "" {
		return env
	}
	set := map[string]string{"USER": u.Name, "LOGNAME": u.Name}
	if u.Home != "" {
		set["HOME"] = u.Home
	}
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for _, k := range []string{"HOME", "USER", "LOGNAME"} {
		if v, ok := set[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// SudoEnv returns the caller's own environment, PATH and virtualenv
// included, as it was before sudo reset it: the environment of the sudo
// process that started this one (the nearest ancestor named sudo), with the
// variables set on sudo's command line (`sudo VAR=x nsrun ...`, found in
// our environment) on top; those sudo itself sets (PATH, HOME, USER,
// LOGNAME, SHELL, MAIL, SUDO_*) are not taken from ours. ok is false when
// there is no such ancestor or its environment cannot be read. Give it only
// to a payload that runs as the caller (see SudoUser), never to root.
func SudoEnv() (env []string, ok bool) {
	caller, ok := sudoProcessEnv()
	if !ok {
		return nil, false
	}
	env = caller
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if !sudoSets(k) {
			env = setEnv(env, k, v)
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

// setEnv returns env with k=v, replacing an earlier value.
func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// sudoProcessEnv returns the environment the nearest sudo ancestor was
// started with.
func sudoProcessEnv() (env []string, ok bool) {
	pid := os.Getppid()
	for i := 0; i < 8 && pid > 1; i++ {
		comm, ppid, err := procStat(pid)
		if err != nil {
			return nil, false
		}
		if comm == "sudo" {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
			if err != nil {
				return nil, false
			}
			return strings.FieldsFunc(string(b), func(r rune) bool { return r == 0 }), true
		}
		pid = ppid
	}
	return nil, false
}

// procStat returns the command name and parent pid of pid.
func procStat(pid int) (comm string, ppid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return "", 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[close+1:])
	if len(f) < 2 {
		return "", 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	ppid, err = strconv.Atoi(f[1])
	return s[open+1 : close], ppid, err
}

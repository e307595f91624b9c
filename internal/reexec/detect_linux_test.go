package reexec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClassify is the table of what blocks user namespaces, judged by what
// a probe observes (this machine allows them, so the blocked cases are
// only reachable here). Each verdict is one line naming the cause and,
// where there is one, the command that lifts it.
func TestClassify(t *testing.T) {
	wrapped := func(errno syscall.Errno) error { return &os.PathError{Op: "fork/exec", Path: Self, Err: errno} }
	for _, tc := range []struct {
		name string
		o    observations
		fix  string // "" for a verdict without a command
		want string // in the line
	}{
		{name: "works", o: observations{appArmor: "1", maxUserNS: "15000"}},
		{name: "works, no sysctls", o: observations{}},
		{
			name: "max_user_namespaces=0", o: observations{start: wrapped(syscall.ENOSPC), maxUserNS: "0"},
			fix: "sudo sysctl -w user.max_user_namespaces=15000", want: "user.max_user_namespaces=0 allows none",
		},
		{
			name: "max_user_namespaces reached", o: observations{start: wrapped(syscall.ENOSPC), maxUserNS: "10"},
			fix: "sudo sysctl -w user.max_user_namespaces=15000", want: "limit user.max_user_namespaces=10 is reached",
		},
		{
			name: "Debian unprivileged_userns_clone=0", o: observations{start: wrapped(syscall.EPERM), userOnly: syscall.EPERM, debian: "0", maxUserNS: "15000"},
			fix: "sudo sysctl -w kernel.unprivileged_userns_clone=1", want: "Debian",
		},
		{
			name: "AppArmor: made, but no capabilities inside", o: observations{inside: syscall.EPERM, appArmor: "1"},
			fix: "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0", want: "gets no capabilities",
		},
		{
			name: "AppArmor: the combined clone refused, a bare user namespace powerless",
			o:    observations{start: wrapped(syscall.EPERM), userOnlyInside: syscall.EPERM, appArmor: "1"},
			fix:  "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0", want: "AppArmor restricts",
		},
		{
			name: "no capabilities, AppArmor off: some other policy", o: observations{inside: syscall.EACCES, appArmor: "0"},
			want: "security module",
		},
		{
			name: "seccomp or container", o: observations{start: wrapped(syscall.EPERM), userOnly: syscall.EPERM, debian: "1", appArmor: "0"},
			want: "seccomp filter or the container runtime",
		},
		{
			name: "seccomp with the sysctls absent", o: observations{start: wrapped(syscall.EPERM), userOnly: syscall.EPERM},
			want: "seccomp filter",
		},
		{
			name: "own uid unmapped (unshare -U)", o: observations{start: wrapped(syscall.EPERM), userOnly: syscall.EPERM, unmapped: true},
			want: "no mapping in its own user namespace",
		},
		{name: "no user namespaces in the kernel", o: observations{start: wrapped(syscall.EINVAL)}, want: "CONFIG_USER_NS"},
		{name: "nested too deep", o: observations{start: wrapped(syscall.EUSERS)}, want: "nested 32 deep"},
		{name: "anything else", o: observations{start: wrapped(syscall.ENOMEM)}, want: "making one fails"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(tc.o)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			var b *BlockedError
			require.True(t, errors.As(err, &b), "%v", err)
			assert.Equal(t, tc.fix, b.Fix)
			msg := err.Error()
			assert.Contains(t, msg, tc.want)
			assert.NotContains(t, msg, "\n", "one line")
			assert.True(t, strings.HasPrefix(msg, "user namespaces are blocked: "), msg)
			if tc.fix != "" {
				assert.Contains(t, msg, "lift it with `"+tc.fix+"`")
			}
			assert.Contains(t, msg, "or run as root")
			failed := tc.o.start
			if failed == nil {
				failed = tc.o.inside
			}
			assert.ErrorIs(t, err, failed, "the observed failure is kept")
		})
	}
}

func TestOuterID(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int64{
		"         0       1001          1\n": 1001,
		"0 0 4294967295\n":                   -1, // the host's map: not one id
		"0 1000 1\n1 100000 65536\n":         -1, // a subordinate range too
		"1000 1000 1\n":                      -1, // 0 is not mapped
		"":                                   -1,
	} {
		p := filepath.Join(dir, "map")
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		id, ok := outerID(p)
		if want < 0 {
			assert.False(t, ok, "%q", content)
			continue
		}
		assert.True(t, ok, "%q", content)
		assert.Equal(t, uint32(want), id)
	}
	_, ok := outerID(filepath.Join(dir, "missing"))
	assert.False(t, ok)
}

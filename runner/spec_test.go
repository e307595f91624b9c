package runner

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpecRoundTrip(t *testing.T) {
	for _, s := range []spec{
		{Netns: "a", PIDNamespace: true, Args: []string{"true"}, NetnsDir: "/run/netns", RecordDir: "/run/nsrun",
			Expose: []string{"a", "b,c"}},
		{Netns: "b", Hostname: "h", Foreground: true, Args: []string{"sh", "-c", "x y", ""},
			Cred: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{65534, 4}}},
		{Netns: "c", Args: []string{"id"}, Cred: &syscall.Credential{Uid: 1000, Gid: 1000}},
	} {
		got, err := parseSpec(s.argv())
		require.NoError(t, err)
		if s.Cred != nil && s.Cred.Groups == nil {
			s.Cred.Groups = []uint32{}
		}
		assert.Equal(t, s, got)
	}
	_, err := parseSpec([]string{reaperMarker, "a", "", "p", "x:y:", "", "", "", "true"})
	assert.Error(t, err)
}

func TestReportRoundTrip(t *testing.T) {
	for _, r := range []report{
		{Done: true, Code: 3},
		{Done: true, Signal: 9},
		{Code: 127, Err: "run x: executable file not found in $PATH"},
	} {
		assert.Equal(t, r, decodeReport(r.encode()))
	}
	assert.Equal(t, report{}, decodeReport("garbage\n"))
}

func TestStatusExitCode(t *testing.T) {
	assert.Equal(t, 3, Status{Code: 3}.ExitCode())
	assert.Equal(t, 130, Status{Signal: syscall.SIGINT}.ExitCode())
	assert.Equal(t, 124, Status{Signal: syscall.SIGKILL, TimedOut: true}.ExitCode())
	assert.Equal(t, 125, ErrorCode(assert.AnError))
	assert.Equal(t, 127, ErrorCode(&Error{Code: 127}))
	assert.Equal(t, 0, ErrorCode(nil))
}

package reaper

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpecRoundTrip(t *testing.T) {
	for _, s := range []Spec{
		{Netns: "a", PIDNamespace: true, Args: []string{"true"}, NetnsDir: "/run/netns", RecordDir: "/run/nsrun",
			Expose: []string{"a", "b,c"}},
		{Netns: "b", Hostname: "h", Foreground: true, Args: []string{"sh", "-c", "x y", ""},
			Cred: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{65534, 4}}},
		{Netns: "c", Args: []string{"id"}, Cred: &syscall.Credential{Uid: 1000, Gid: 1000}},
	} {
		got, err := ParseSpec(s.Argv())
		require.NoError(t, err)
		if s.Cred != nil && s.Cred.Groups == nil {
			s.Cred.Groups = []uint32{}
		}
		assert.Equal(t, s, got)
	}
	_, err := ParseSpec([]string{Marker, "a", "", "p", "x:y:", "", "", "", "true"})
	assert.Error(t, err)
}

func TestReportRoundTrip(t *testing.T) {
	for _, r := range []Report{
		{Done: true, Code: 3},
		{Done: true, Signal: 9},
		{Code: 127, Err: "run x: executable file not found in $PATH"},
	} {
		assert.Equal(t, r, DecodeReport(r.Encode()))
	}
	assert.Equal(t, Report{}, DecodeReport("garbage\n"))
}

func TestParseID(t *testing.T) {
	id, err := parseID("4 4026532307")
	require.NoError(t, err)
	assert.Equal(t, uint64(4), id.Dev)
	assert.Equal(t, uint64(4026532307), id.Ino)
	for _, bad := range []string{"", "4", "4 x", "x 4", "4  5"} {
		_, err := parseID(bad)
		assert.Error(t, err, "%q", bad)
	}
}

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/nsrun/nsrun/runner"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSetenv(t *testing.T) {
	env := []string{"A=1", "NSRUN_NETNS=old", "B=2", "NSRUN_NETNS=older"}
	got := setenv(env, "NSRUN_NETNS", "new")
	assert.Equal(t, []string{"A=1", "NSRUN_NETNS=new", "B=2"}, got, "replaced where it stands, duplicates dropped")
	assert.Equal(t, []string{"A=1", "NSRUN_NETNS=old", "B=2", "NSRUN_NETNS=older"}, env, "the input is left alone")
	assert.Equal(t, []string{"A=1", "C=3"}, setenv([]string{"A=1"}, "C", "3"))
	assert.Equal(t, []string{"A=1"}, setenv(nil, "A", "1"))
	assert.Equal(t, []string{"AB=1", "A=2"}, setenv([]string{"AB=1"}, "A", "2"), "a longer name is another variable")
}

func TestAccountEnv(t *testing.T) {
	u := &account{uid: 1000, gid: 1000, name: "ann", home: "/home/ann"}
	env := u.env([]string{"HOME=/root", "PATH=/bin", "USER=root"})
	assert.Equal(t, []string{"HOME=/home/ann", "PATH=/bin", "USER=ann", "LOGNAME=ann"}, env)
	numeric := &account{uid: 4242, gid: 4242}
	assert.Equal(t, []string{"HOME=/root"}, numeric.env([]string{"HOME=/root"}), "no passwd entry: nothing to set")
	assert.Equal(t, &syscall.Credential{Uid: 1000, Gid: 1000}, u.credential())
}

func TestLookupUser(t *testing.T) {
	u, err := lookupUser("4242")
	require.NoError(t, err)
	if u.name == "" { // no passwd entry for 4242, as usual
		assert.Equal(t, &account{uid: 4242, gid: 4242}, u)
	}
	u, err = lookupUser("4242:17")
	require.NoError(t, err)
	assert.Equal(t, uint32(17), u.gid)
	assert.Nil(t, u.groups, "an explicit group replaces the supplementary ones")
	u, err = lookupUser("root:0")
	require.NoError(t, err)
	assert.Equal(t, "root", u.name)
	_, err = lookupUser("no-such-user-nsrun")
	assert.ErrorContains(t, err, "look up user no-such-user-nsrun")
	_, err = lookupUser("root:no-such-group-nsrun")
	assert.ErrorContains(t, err, "look up group no-such-group-nsrun")
	_, err = lookupUser("")
	assert.Error(t, err)
}

func TestSudoUserNeedsSudo(t *testing.T) {
	t.Setenv("SUDO_UID", "")
	u, err := sudoUser()
	assert.NoError(t, err)
	assert.Nil(t, u)
}

func TestSudoSets(t *testing.T) {
	for _, k := range []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "MAIL", "SUDO_UID", "SUDO_COMMAND"} {
		assert.True(t, sudoSets(k), k)
	}
	for _, k := range []string{"VIRTUAL_ENV", "GOPATH", "LANG", "PATHX"} {
		assert.False(t, sudoSets(k), k)
	}
}

func TestProcStat(t *testing.T) {
	p, err := procStat(os.Getpid())
	require.NoError(t, err)
	assert.NotEmpty(t, p.comm)
	assert.Equal(t, os.Getppid(), p.ppid)
	assert.Contains(t, "RS", string(p.state), "this process runs or sleeps")
	assert.NotZero(t, p.start)
	_, err = procStat(-1)
	assert.Error(t, err)
}

func TestExitCode(t *testing.T) {
	assert.Equal(t, 125, exitCode(errors.New("create namespace")))
	assert.Equal(t, 127, exitCode(fmt.Errorf("x: %w", &runner.Error{Code: 127, Err: errors.New("not found")})))
	assert.Equal(t, 126, exitCode(&runner.Error{Code: 126, Err: errors.New("not executable")}))
}

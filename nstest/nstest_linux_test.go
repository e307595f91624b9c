package nstest_test

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// helperEnv marks a run of this binary as a helper whose tests misbehave on
// purpose; the parent checks what they leave behind.
const helperEnv = "NSTEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(m.Run()) // no leak check: the parent does it
	}
	nstest.Main(leakcheck.Wrap(m))
}

func TestIntegrationNewCleansUp(t *testing.T) {
	testenv.RequirePrivilege(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		n := nstest.New(t)
		name = n.Name()
		assert.True(t, strings.HasPrefix(name, "nst-TestIntegrationNewCleansUp-inner-"), name)
		require.NoError(t, n.Command("sleep", "60").Start())
	})
	_, err := os.Stat(nsrun.Dir() + "/" + name)
	assert.True(t, os.IsNotExist(err), "removed when the subtest ended")
}

// runHelper runs this test binary on the helper test called name and
// returns the names of the namespaces it made (it prints them).
func runHelper(t *testing.T, name string, args ...string) (names []string, exitCode int) {
	t.Helper()
	names, _, exitCode = runHelperOutput(t, name, args...)
	return names, exitCode
}

// runHelperOutput is runHelper that also returns the helper's output.
func runHelperOutput(t *testing.T, name string, args ...string) (names []string, out string, exitCode int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^" + name + "$", "-test.v"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	b, err := cmd.CombinedOutput()
	out = string(b)
	for _, line := range strings.Split(out, "\n") {
		if _, n, ok := strings.Cut(line, "NAMESPACE "); ok {
			names = append(names, strings.TrimSpace(n))
		}
	}
	require.NotEmpty(t, names, "helper output: %s", out)
	if ee, ok := err.(*exec.ExitError); ok {
		return names, out, ee.ExitCode()
	}
	require.NoError(t, err)
	return names, out, 0
}

func requireNoneLeft(t *testing.T, names []string) {
	t.Helper()
	for _, n := range names {
		_, err := os.Stat(nsrun.Dir() + "/" + n)
		assert.True(t, os.IsNotExist(err), "%s left behind", n)
		_, err = owner.Read(n)
		assert.True(t, os.IsNotExist(err), "record of %s left behind", n)
	}
}

func TestIntegrationFailuresLeaveNothing(t *testing.T) {
	testenv.RequirePrivilege(t)
	for _, helper := range []string{"TestHelperPanics", "TestHelperFailNowInRun", "TestHelperFatalWithProcesses"} {
		t.Run(helper, func(t *testing.T) {
			names, code := runHelper(t, helper)
			assert.NotEqual(t, 0, code, "the helper test fails")
			requireNoneLeft(t, names)
		})
	}
}

func TestIntegrationTimeoutLeftoversAreSweptByTheNextRun(t *testing.T) {
	testenv.RequirePrivilege(t)
	// On timeout the testing package exits at once, without cleanups.
	names, code := runHelper(t, "TestHelperHangs", "-test.timeout=1s")
	assert.NotEqual(t, 0, code)
	t.Cleanup(func() {
		for _, n := range names {
			nsrun.DeleteNamed(n)
		}
	})
	rec, err := owner.Read(names[0])
	require.NoError(t, err, "the timed-out run left its namespace")
	assert.False(t, rec.OwnerAlive())
	swept, err := owner.Sweep(false, nsrun.DeleteNamed) // what the next nstest.New does first
	require.NoError(t, err)
	assert.NotEmpty(t, swept)
	requireNoneLeft(t, names)
}

func helperOnly(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestIntegrationFailuresLeaveNothing")
	}
}

func TestHelperPanics(t *testing.T) {
	helperOnly(t)
	n := nstest.New(t)
	t.Log("NAMESPACE", n.Name())
	require.NoError(t, n.Command("sleep", "60").Start())
	panic("on purpose")
}

func TestHelperFailNowInRun(t *testing.T) {
	helperOnly(t)
	n := nstest.New(t)
	t.Log("NAMESPACE", n.Name())
	nstest.Run(t, n, "inside", func(t *testing.T) {
		require.NoError(t, exec.Command("sleep", "60").Start()) // started from inside
		t.FailNow()
	})
}

func TestHelperFatalWithProcesses(t *testing.T) {
	helperOnly(t)
	a, b := nstest.New(t), nstest.New(t)
	t.Log("NAMESPACE", a.Name())
	t.Log("NAMESPACE", b.Name())
	require.NoError(t, exec.Command("ip", "netns", "exec", a.Name(), "setsid", "sleep", "60").Start())
	require.NoError(t, b.Command("sh", "-c", "trap '' TERM; sleep 60").Start())
	t.Fatal("on purpose")
}

func TestHelperHangs(t *testing.T) {
	helperOnly(t)
	n := nstest.New(t)
	t.Log("NAMESPACE", n.Name())
	require.NoError(t, n.Command("sleep", "60").Start())
	time.Sleep(time.Minute)
}

func TestIntegrationWithoutPrivilegeSkipsOrFailsUnderStrict(t *testing.T) {
	testenv.RequirePrivilege(t)
	// Copy this test binary where an unprivileged user can run it.
	dir, err := os.MkdirTemp("", "nstest-unpriv")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := dir + "/nstest.test"
	data, err := os.ReadFile("/proc/self/exe")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, data, 0o755))
	for _, strict := range []string{"", "1"} {
		cmd := exec.Command(bin, "-test.run=^TestHelperUnprivileged$", "-test.v")
		cmd.Env = append(os.Environ(), helperEnv+"=1", nstest.StrictEnv+"="+strict)
		asNobody(cmd)
		out, err := cmd.CombinedOutput()
		if strict == "" {
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "--- SKIP")
			assert.Contains(t, string(out), "needs the privilege to create network namespaces")
			if reexec.Detect() == nil {
				assert.Contains(t, string(out), "func TestMain(m *testing.M) { nstest.Main(m) }", "the skip says how to run rootless")
			} else {
				assert.Contains(t, string(out), "user namespaces are blocked", "the skip says what blocks rootless")
			}
		} else {
			require.Error(t, err, "%s", out)
			assert.Contains(t, string(out), "--- FAIL")
		}
	}
}

// asNobody makes cmd run as uid and gid 65534, without any capability: as
// the host's user nobody, or, in a rootless run, which cannot switch to
// another real user, as 65534 of a user namespace nested in the run's that
// maps it to the run's root.
func asNobody(cmd *exec.Cmd) {
	if !reexec.InRootless() {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 65534, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 65534, HostID: os.Getegid(), Size: 1}},
	}
}

func TestHelperUnprivileged(t *testing.T) {
	helperOnly(t)
	nstest.New(t)
	t.Error("New must not return without privilege")
}

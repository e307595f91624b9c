package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/internal/syncbuf"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// nsrunBin is the nsrun binary under test, built once by TestMain.
var nsrunBin string

func TestMain(m *testing.M) {
	// Runs that fail on purpose must not write to CI's job page.
	_ = os.Unsetenv(stepSummaryEnv)
	dir, err := os.MkdirTemp("", "nsrun-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nsrunBin = filepath.Join(dir, "nsrun")
	if out, err := exec.Command("go", "build", "-o", nsrunBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build nsrun: %v\n%s", err, out)
		os.Exit(1)
	}
	// Orphans (the reaper of an nsrun the tests SIGKILL, a daemon started
	// with --no-pidns) become our children, so that tests can reap them
	// instead of leaving zombies to the machine's init.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "set child subreaper:", err)
		os.Exit(1)
	}
	code := leakcheck.Run(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// result is how one nsrun run ended.
type result struct {
	stdout, stderr string
	code           int
}

// runNsrun runs the built nsrun with args (and extra environment) to the
// end; a run longer than a minute is killed and fails the test.
func runNsrun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nsrunBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "nsrun %s timed out", strings.Join(args, " "))
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// running is an nsrun started in the background.
type running struct {
	cmd            *exec.Cmd
	stdout, stderr *buffer
	done           chan struct{}
}

// startNsrun starts nsrun with args; the test's cleanup kills it if it is
// still running.
func startNsrun(t *testing.T, args ...string) *running {
	t.Helper()
	return startNsrunEnv(t, nil, args...)
}

// startNsrunEnv is startNsrun with extra environment.
func startNsrunEnv(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	r := &running{cmd: exec.Command(nsrunBin, args...), stdout: &buffer{}, stderr: &buffer{}, done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
	require.NoError(t, r.cmd.Start())
	go func() {
		_ = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

// waitOutput waits until stdout contains s.
func (r *running) waitOutput(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(r.stdout.String(), s) {
		select {
		case <-r.done:
			t.Fatalf("nsrun ended before printing %q: stdout %q, stderr %q", s, r.stdout, r.stderr)
		default:
		}
		require.True(t, time.Now().Before(deadline), "no %q in stdout %q", s, r.stdout)
		time.Sleep(5 * time.Millisecond)
	}
}

// wait waits for nsrun to end and returns its exit code.
func (r *running) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("nsrun did not end: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	return r.cmd.ProcessState.ExitCode()
}

// buffer is safe for one writer and concurrent readers.
type buffer = syncbuf.Buffer

// procsWith returns the pids of processes whose command line contains
// marker (an argument unique to the test).
func procsWith(marker string) []int {
	var pids []int
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(marker)) {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/cmdline", &pid); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// requireNoNamespace checks that name is gone from the namespace directory
// (and its owner record with it).
func requireNoNamespace(t *testing.T, dir, name string) {
	t.Helper()
	_, err := os.Lstat(filepath.Join(dir, "netns", name))
	require.ErrorIs(t, err, os.ErrNotExist, "namespace %s still there", name)
	_, err = os.Lstat(filepath.Join(dir, "nsrun", name+".json"))
	require.ErrorIs(t, err, os.ErrNotExist, "owner record of %s still there", name)
}

// runDir is the parent of the default namespace directory (/run).
func runDir() string { return filepath.Dir(nsrun.Dir()) }

// uniqueName returns a namespace name unique to this test run.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1e6)
}

// childrenOf returns the pids of pid's children.
func childrenOf(pid int) []int {
	var out []int
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(b)) {
			var c int
			if _, err := fmt.Sscan(w, &c); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// reapOrphans waits for each pid, an orphan re-parented to this process
// (see TestMain), to end, and reaps it.
func reapOrphans(t *testing.T, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := unix.Wait4(pid, nil, unix.WNOHANG, nil)
			if got == pid || err != nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "orphan %d did not end", pid)
			time.Sleep(5 * time.Millisecond)
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/testuser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rootlessNsrun is nsrun run by a real normal user, which therefore runs
// rootless.
type rootlessNsrun struct {
	u   testuser.User
	bin string // nsrun, where u can run it
}

// newRootless gets a normal user (see testuser.Get) and a copy of nsrun it
// can run; it skips the test where user namespaces are blocked.
func newRootless(t *testing.T) rootlessNsrun {
	t.Helper()
	u := testuser.Get(t)
	if err := reexec.Detect(); err != nil {
		t.Skipf("no rootless mode here: %v", err)
	}
	return rootlessNsrun{u: u, bin: testuser.Copy(t, nsrunBin, u.Dir(t, false))}
}

// run runs nsrun with args as the user, in dir, to the end.
func (r rootlessNsrun) run(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := r.u.Command(dir, env, append([]string{r.bin}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("nsrun %s as %s timed out: %s %s", strings.Join(args, " "), r.u.Name, stdout.String(), stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

func TestIntegrationRootlessRun(t *testing.T) {
	r := newRootless(t)
	res := r.run(t, "/", nil, "--", "sh", "-c", `id -u; id -g; echo "ns=$NSRUN_NETNS rootless=$NSRUN_ROOTLESS"; ip netns list; ip -o link`)
	require.Equal(t, 0, res.code, "stdout %q, stderr %q", res.stdout, res.stderr)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.GreaterOrEqual(t, len(lines), 4, res.stdout)
	assert.Equal(t, strconv.Itoa(r.u.UID), lines[0], "the command runs as the user")
	assert.Equal(t, strconv.Itoa(r.u.GID), lines[1])
	name, ok := strings.CutPrefix(strings.Fields(lines[2])[0], "ns=")
	require.True(t, ok && name != "", lines[2])
	assert.Equal(t, "rootless=1", strings.Fields(lines[2])[1])
	assert.Contains(t, lines[3], name, "ip netns list inside shows the run's namespace")
	var links []string
	for _, l := range lines[4:] {
		links = append(links, strings.TrimSuffix(strings.Fields(l)[1], ":"))
	}
	assert.Equal(t, []string{"lo"}, links, "ip -o link: %s", res.stdout)
	_, err := os.Lstat(filepath.Join(runDir(), "netns", name))
	assert.ErrorIs(t, err, os.ErrNotExist, "the name lives in the run's own directory, not the host's")

	res = r.run(t, "/", nil, "--as-root", "--", "id", "-u")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "0", strings.TrimSpace(res.stdout), "--as-root keeps uid 0 of the run's user namespace")
}

func TestIntegrationRootlessExitCodes(t *testing.T) {
	r := newRootless(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--", "sh", "-c", "exit 3"}, 3},
		{[]string{"--timeout", "200ms", "--", "sleep", "30"}, 124},
		{[]string{"--", "no-such-command-nsrun-test"}, 127},
		{[]string{"--", "sh", "-c", "kill -TERM $$"}, 128 + int(syscall.SIGTERM)},
	} {
		res := r.run(t, "/", nil, tc.args...)
		assert.Equal(t, tc.code, res.code, "nsrun %s: %s", strings.Join(tc.args, " "), res.stderr)
	}
	res := r.run(t, "/", nil, "--user", "root", "--", "true")
	assert.Equal(t, reexec.CodeFailed, res.code)
	assert.Contains(t, res.stderr, "--user needs root")
	// A namespace of the host's is not among the user's rootless ones.
	host, err := nsrun.New(nsrun.WithName(uniqueName("rootless-exec")))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, host.Delete()) })
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"exec", host.Name(), "--", "true"}, "no rootless namespace " + host.Name()},
		{[]string{"down", host.Name()}, "no rootless topology " + host.Name()},
		{[]string{"up", "no-such-file.yaml"}, "no-such-file.yaml"},
	} {
		res := r.run(t, "/", nil, tc.args...)
		assert.Equal(t, reexec.CodeFailed, res.code, "nsrun %s", strings.Join(tc.args, " "))
		assert.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
		assert.Contains(t, res.stderr, tc.msg)
	}
}

func TestIntegrationRootlessFilesAreTheUsers(t *testing.T) {
	r := newRootless(t)
	dir := r.u.Dir(t, true)
	for _, as := range [][]string{nil, {"--as-root"}} {
		f := filepath.Join(dir, fmt.Sprintf("made%d", len(as)))
		res := r.run(t, dir, nil, append(as, "--", "touch", f)...)
		require.Equal(t, 0, res.code, res.stderr)
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(f, &st))
		assert.Equal(t, uint32(r.u.UID), st.Uid, "%v: a file the command makes is the user's", as)
		assert.Equal(t, uint32(r.u.GID), st.Gid)
	}
}

// TestIntegrationRootlessKilledLeavesNothing kills a rootless nsrun with
// SIGKILL: every process of the run dies with it, and its namespaces,
// named only in the run's own mount namespace, with them.
func TestIntegrationRootlessKilledLeavesNothing(t *testing.T) {
	r := newRootless(t)
	before := lsns(t)
	marker := fmt.Sprintf("rootless-kill-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd, _, waited := r.startReady(t, "echo ready; sleep 600", marker)
	// The run: the outer nsrun (runuser's child), the rootless nsrun, its
	// reaper and the command, each with the marker in its argv.
	run := r.u.Pids(marker)
	require.GreaterOrEqual(t, len(run), 4, "outer nsrun, rootless nsrun, reaper, command: %v", run)
	var outer int
	owned := map[string]bool{}
	for _, pid := range run {
		if ppid(t, pid) == cmd.Process.Pid {
			outer = pid
		}
		for _, kind := range []string{"net", "user", "mnt", "pid"} {
			if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind)); err == nil {
				if self, _ := os.Readlink("/proc/self/ns/" + kind); link != self {
					owned[link] = true
				}
			}
		}
	}
	require.NotZero(t, outer, "the outer nsrun among %v", run)
	require.GreaterOrEqual(t, len(owned), 5, "the run's own namespaces: %v", owned)
	require.NoError(t, syscall.Kill(outer, syscall.SIGKILL))

	deadline := time.Now().Add(20 * time.Second)
	for len(r.u.Pids(marker)) > 0 {
		require.True(t, time.Now().Before(deadline), "processes of the run outlived nsrun: %v", r.u.Pids(marker))
		time.Sleep(10 * time.Millisecond)
	}
	<-waited
	// This test binary is a child subreaper (see TestMain): the run's
	// processes, orphaned, became its children, and it reaps them, as init
	// would.
	deadline = time.Now().Add(10 * time.Second)
	for kids := childrenOf(os.Getpid()); len(kids) > 0; kids = childrenOf(os.Getpid()) {
		require.True(t, time.Now().Before(deadline), "children left: %v", kids)
		for _, kid := range kids {
			_, _ = syscall.Wait4(kid, nil, syscall.WNOHANG, nil)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r.u.Own {
		assert.Empty(t, r.u.Pids(""), "no process of %s is left", r.u.Name)
	}
	// Nothing holds any of the run's namespaces: no process, no mount. A
	// process killed with the run may take a moment to be gone.
	for link := range owned {
		deadline = time.Now().Add(10 * time.Second)
		for len(holders(link)) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		assert.Empty(t, describe(holders(link)...), "%s is still held", link)
	}
	after := lsns(t)
	for ns, user := range after {
		if _, had := before[ns]; !had {
			assert.False(t, owned["net:["+ns+"]"], "lsns still lists the run's namespace %s", ns)
			assert.NotEqual(t, r.u.Name, user, "lsns lists a new namespace of %s: %s", r.u.Name, ns)
		}
	}
}

// ppid returns the parent pid of pid, or 0.
func ppid(t *testing.T, pid int) int {
	t.Helper()
	p, err := procStat(pid)
	if err != nil {
		return 0
	}
	return p.ppid
}

// lsns returns the network namespaces lsns lists, with the user of the
// process it names for each.
func lsns(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("lsns", "-n", "-t", "net", "-o", "NS,USER").Output()
	if err != nil {
		t.Skipf("lsns: %v", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			m[f[0]] = f[1]
		}
	}
	return m
}

// holders returns where the namespace link ("net:[INODE]") is still in
// use: processes in it, and mount tables that bind it.
func holders(link string) []string {
	var found []string
	nsFiles, _ := filepath.Glob("/proc/[0-9]*/ns/*")
	for _, f := range nsFiles {
		if l, err := os.Readlink(f); err == nil && l == link {
			found = append(found, f)
		}
	}
	infos, _ := filepath.Glob("/proc/[0-9]*/mountinfo")
	for _, f := range infos {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(link)) {
			found = append(found, f)
		}
	}
	return found
}

func TestIntegrationRootlessPytest(t *testing.T) {
	r := newRootless(t)
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import pytest").Run(); err != nil {
		t.Skipf("no pytest for %s (apt-get install python3-pytest): %v", python, err)
	}
	// The suite, in a directory the user owns, where Python may write.
	dir := r.u.Dir(t, true)
	src := filepath.Join(repoRoot(t), "examples", "pytest")
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "pytest"), 0o755))
	require.NoError(t, os.Chown(filepath.Join(dir, "pytest"), r.u.UID, r.u.GID))
	for _, e := range entries {
		if e.Type().IsRegular() {
			testuser.Copy(t, filepath.Join(src, e.Name()), filepath.Join(dir, "pytest"))
		}
	}
	args := []string{"--", python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "pytest"}
	res := r.run(t, dir, nil, args...)
	require.Equal(t, 0, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "4 passed, 1 skipped")
	res = r.run(t, dir, []string{"NSRUN_PYTEST_FAIL=1"}, args...)
	assert.Equal(t, 1, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "1 failed, 4 passed")
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(filepath.Join(dir, "pytest", "__pycache__"), &st), "python wrote its caches")
	assert.Equal(t, uint32(r.u.UID), st.Uid, "what pytest writes is the user's")
}

// TestIntegrationRootlessSignals sends SIGTERM to a rootless nsrun: it
// reaches the command, whose exit code nsrun exits with.
func TestIntegrationRootlessSignals(t *testing.T) {
	r := newRootless(t)
	marker := fmt.Sprintf("rootless-sig-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd, out, waited := r.startReady(t, `trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.05; done`, marker)
	var outer int
	for _, pid := range r.u.Pids(marker) {
		if ppid(t, pid) == cmd.Process.Pid {
			outer = pid
		}
	}
	require.NotZero(t, outer)
	require.NoError(t, syscall.Kill(outer, syscall.SIGTERM))
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Fatalf("nsrun did not end after SIGTERM: %q", out.String())
	}
	assert.Contains(t, out.String(), "got-term", "SIGTERM reached the command")
	assert.Equal(t, 9, cmd.ProcessState.ExitCode(), "the command's own exit code: %q", out.String())
}

// TestIntegrationRootlessTestBinary does what `go test -exec nsrun` does,
// as the user: nsrun runs the test binary of examples/gopkg (built here),
// whose tests pass only inside a namespace of their own.
func TestIntegrationRootlessTestBinary(t *testing.T) {
	r := newRootless(t)
	dir := r.u.Dir(t, false)
	bin := filepath.Join(dir, "gopkg.test")
	out, err := exec.Command("go", "test", "-c", "-o", bin, filepath.Join(repoRoot(t), "examples", "gopkg")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	res := r.run(t, dir, nil, bin, "-test.v", "-test.count=1")
	require.Equal(t, 0, res.code, "%s%s", res.stdout, res.stderr)
	for _, name := range []string{"TestOnlyLoopback", "TestFixedPort", "TestFailOnRequest"} {
		assert.Contains(t, res.stdout, "--- PASS: "+name, "ran in a namespace, not skipped")
	}
	res = r.run(t, dir, []string{"GOPKG_FAIL=1"}, bin, "-test.count=1")
	assert.Equal(t, 1, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "failing on request")
}

// describe adds each holder's command line and state, for messages.
func describe(files ...string) []string {
	var out []string
	for _, f := range files {
		dir := f[:strings.Index(f[len("/proc/"):], "/")+len("/proc/")]
		cmdline, _ := os.ReadFile(dir + "/cmdline")
		stat, _ := os.ReadFile(dir + "/stat")
		out = append(out, fmt.Sprintf("%s (%q, %s)", f, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}), bytes.TrimSpace(stat)))
	}
	return out
}

// TestIntegrationRootlessTerminal is TestIntegrationTerminal for a normal
// user: through the rootless run, the payload still becomes the terminal's
// foreground group, Ctrl-C reaches it (exit 130), and the shell gets the
// terminal back.
func TestIntegrationRootlessTerminal(t *testing.T) {
	r := newRootless(t)
	checkTerminal(t, r.bin, &r.u)
}

// startReady starts the rootless nsrun as the user on sh -c script (with
// marker as $0, to find its processes) and waits until it printed "ready".
// waited is closed once the outer process has been waited for; Cleanup
// kills and waits for it.
func (r rootlessNsrun) startReady(t *testing.T, script, marker string) (cmd *exec.Cmd, out *buffer, waited chan struct{}) {
	t.Helper()
	cmd = r.u.Command("/", nil, r.bin, "--", "sh", "-c", script, marker)
	out = &buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	waited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-waited })
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "ready") {
		require.True(t, time.Now().Before(deadline), "no ready line: %q", out.String())
		time.Sleep(5 * time.Millisecond)
	}
	return cmd, out, waited
}

// rootlessUp makes a topology file (a pair named name) in a directory the
// user owns and returns the directory; Cleanup takes the topology down if
// the test did not, reaps its holder (this binary is a subreaper) and
// removes the user's runs directory once it is empty.
func (r rootlessNsrun) rootlessUp(t *testing.T, name string) (dir, runs string) {
	t.Helper()
	dir = r.u.Dir(t, true)
	spec := "name: " + name + "\nnodes:\n  - name: client\n  - name: server\nlinks:\n  - a: client:eth0\n    b: server:eth0\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pair.yaml"), []byte(spec), 0o644))
	runs = filepath.Join(os.TempDir(), fmt.Sprintf("nsrun-%d", r.u.UID))
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(runs, name+".json")); err == nil {
			r.run(t, "/", nil, "down", name)
		}
		reapChildren(t)
		_ = os.Remove(runs) // only if empty: the user may have runs of their own
	})
	return dir, runs
}

// reapChildren waits for the children this test binary, a subreaper, got
// from processes that ended (a holder whose nsrun up returned).
func reapChildren(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for kids := childrenOf(os.Getpid()); len(kids) > 0; kids = childrenOf(os.Getpid()) {
		if time.Now().After(deadline) {
			t.Errorf("children left: %v", kids)
			return
		}
		for _, kid := range kids {
			_, _ = syscall.Wait4(kid, nil, syscall.WNOHANG, nil)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestIntegrationRootlessUpExecDown: a normal user's nsrun up leaves a
// topology up, held by one process of theirs, that their nsrun exec, ls
// and down reach and the host's ip netns does not see; down leaves nothing
// of the user's behind.
func TestIntegrationRootlessUpExecDown(t *testing.T) {
	r := newRootless(t)
	name := fmt.Sprintf("rlup%d", os.Getpid()%100000)
	dir, runs := r.rootlessUp(t, name)

	res := r.run(t, dir, nil, "up", "pair.yaml")
	require.Equal(t, 0, res.code, "stdout %q, stderr %q", res.stdout, res.stderr)
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "stdout is KEY=VALUE lines: %q", res.stdout)
		env[k] = v
	}
	client, server := env["NSRUN_NS_CLIENT"], env["NSRUN_NS_SERVER"]
	require.NotEmpty(t, client, res.stdout)
	assert.Equal(t, "10.200.0.2", env["NSRUN_IPV4_SERVER"])
	assert.Contains(t, res.stderr, "nsrun down "+name)
	assert.NotContains(t, res.stderr, "sudo", "a rootless run needs no sudo")

	// One holder, the user's, in a user namespace of its own, keeping no
	// directory busy.
	var held heldRun
	b, err := os.ReadFile(filepath.Join(runs, name+".json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &held))
	assert.Equal(t, map[string]string{"client": client, "server": server}, held.Namespaces)
	assert.Equal(t, filepath.Join(dir, "pair.yaml"), held.File)
	require.True(t, held.alive(), "holder %d runs", held.PID)
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(fmt.Sprintf("/proc/%d", held.PID), &st))
	assert.Equal(t, uint32(r.u.UID), st.Uid, "the holder is the user's process")
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", held.PID))
	require.NoError(t, err)
	assert.Equal(t, "/", cwd)
	for _, ns := range []string{client, server} {
		_, err := os.Lstat(filepath.Join(nsrun.Dir(), ns))
		assert.ErrorIs(t, err, os.ErrNotExist, "the host's ip netns does not see %s", ns)
	}

	// exec: in the node, as the user, with the topology's hosts file; the
	// exit code and stdin pass through.
	res = r.run(t, "/", nil, "exec", client, "--", "sh", "-c",
		"id -u; ip -o -4 addr show eth0; ping -c1 -W5 server >/dev/null && echo pinged; exit 3")
	require.Equal(t, 3, res.code, "stdout %q, stderr %q", res.stdout, res.stderr)
	assert.Equal(t, strconv.Itoa(r.u.UID), strings.Split(res.stdout, "\n")[0], "the command runs as the user")
	assert.Contains(t, res.stdout, "10.200.0.1/30")
	assert.Contains(t, res.stdout, "pinged", "the server is reachable by its name")
	cmd := r.u.Command("/", nil, r.bin, "exec", server, "--", "cat")
	cmd.Stdin = strings.NewReader("through stdin\n")
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, "through stdin\n", string(out))

	// ls lists the run's namespaces.
	res = r.run(t, "/", nil, "ls", "--json")
	require.Equal(t, 0, res.code, res.stderr)
	var entries []lsEntry
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &entries), res.stdout)
	var listed []string
	for _, e := range entries {
		if e.Rootless == name {
			listed = append(listed, e.Name)
			assert.Equal(t, "kept", e.Owner)
		}
	}
	assert.ElementsMatch(t, []string{client, server}, listed)

	// A second up of the same topology, and a down of one node, are
	// refused on one line, leaving the run as it is; the second up is
	// refused before it builds anything (-v would say what it made).
	res = r.run(t, dir, nil, "up", "-v", "pair.yaml")
	assert.Equal(t, reexec.CodeFailed, res.code)
	assert.Contains(t, res.stderr, "topology "+name+" is already up")
	assert.NotContains(t, res.stderr, "created node")
	res = r.run(t, "/", nil, "down", client)
	assert.Equal(t, reexec.CodeFailed, res.code)
	assert.Contains(t, res.stderr, "nsrun down "+name+" removes them all")
	require.True(t, held.alive())

	// down ends the holder, and with it everything of the run.
	res = r.run(t, "/", nil, "down", name)
	require.Equal(t, 0, res.code, "stdout %q, stderr %q", res.stdout, res.stderr)
	assert.False(t, held.alive(), "the holder has ended when down returns")
	for _, f := range []string{name + ".json", name + ".sock"} {
		_, err := os.Lstat(filepath.Join(runs, f))
		assert.ErrorIs(t, err, os.ErrNotExist, f)
	}
	reapChildren(t)
	if r.u.Own {
		assert.Empty(t, r.u.Pids(""), "no process of %s is left", r.u.Name)
		_, err := os.Stat(runs)
		assert.ErrorIs(t, err, os.ErrNotExist, "down removes the user's runs directory once empty")
	}
	res = r.run(t, "/", nil, "exec", client, "--", "true")
	assert.Equal(t, reexec.CodeFailed, res.code)
	assert.Contains(t, res.stderr, "no rootless namespace "+client)
}

// TestIntegrationRootlessHolderKilled kills the holder of a rootless
// topology: its namespaces go with it, ls says so, and gc removes its
// record (--dry-run only says it would).
func TestIntegrationRootlessHolderKilled(t *testing.T) {
	r := newRootless(t)
	name := fmt.Sprintf("rlgc%d", os.Getpid()%100000)
	dir, runs := r.rootlessUp(t, name)
	res := r.run(t, dir, nil, "up", "pair.yaml")
	require.Equal(t, 0, res.code, res.stderr)
	var held heldRun
	b, err := os.ReadFile(filepath.Join(runs, name+".json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &held))
	netns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", held.PID))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(held.PID, syscall.SIGKILL))
	reapChildren(t)
	require.False(t, held.alive())
	deadline := time.Now().Add(10 * time.Second)
	for len(holders(netns)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.Empty(t, describe(holders(netns)...), "the run's namespaces died with its holder")

	res = r.run(t, "/", nil, "ls")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stderr, "rootless topology "+name+" is gone")
	res = r.run(t, "/", nil, "gc", "--dry-run")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "would remove rootless topology "+name)
	_, err = os.Stat(filepath.Join(runs, name+".json"))
	require.NoError(t, err, "--dry-run removes nothing")
	res = r.run(t, "/", nil, "gc")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "removed rootless topology "+name)
	for _, f := range []string{name + ".json", name + ".sock"} {
		_, err := os.Lstat(filepath.Join(runs, f))
		assert.ErrorIs(t, err, os.ErrNotExist, f)
	}
	res = r.run(t, "/", nil, "gc")
	assert.Equal(t, 0, res.code)
	assert.Empty(t, res.stdout, "nothing left to remove")
}

// TestIntegrationRootlessUpEmulated: a normal user's nsrun up of a topology
// with emulated links: the holder runs the relays too, exec's traffic
// crosses them, and down leaves nothing of the user's.
func TestIntegrationRootlessUpEmulated(t *testing.T) {
	r := newRootless(t)
	name := fmt.Sprintf("rlemu%d", os.Getpid()%100000)
	dir, runs := r.rootlessUp(t, name)
	spec := "name: " + name + "\nemulate: all\nnodes: [{name: client}, {name: server}]\n" +
		"links:\n  - {a: client, b: server, impair: {delay: 20ms}}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pair.yaml"), []byte(spec), 0o644))
	res := r.run(t, dir, nil, "up", "pair.yaml")
	require.Equal(t, 0, res.code, "stdout %q, stderr %q", res.stdout, res.stderr)
	var held heldRun
	b, err := os.ReadFile(filepath.Join(runs, name+".json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &held))
	res = r.run(t, "/", nil, "exec", held.Namespaces["client"], "--", "ping", "-c2", "-W5", "server")
	require.Equal(t, 0, res.code, "stdout %q, stderr %q", res.stdout, res.stderr)
	m := regexp.MustCompile(`= ([\d.]+)/`).FindStringSubmatch(res.stdout)
	require.NotNil(t, m, res.stdout)
	rtt, _ := strconv.ParseFloat(m[1], 64)
	assert.GreaterOrEqual(t, rtt, 40.0, "20 ms each way, through the holder's relay")
	res = r.run(t, "/", nil, "down", name)
	require.Equal(t, 0, res.code, "stdout %q, stderr %q", res.stdout, res.stderr)
	assert.False(t, held.alive())
	reapChildren(t)
	if r.u.Own {
		assert.Empty(t, r.u.Pids(""), "no process of %s is left", r.u.Name)
	}
}

package testuser

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsrun/nsrun/internal/testenv"
)

// Shared is the normal user CI makes (.ci/run); tests use it when it
// exists rather than making one.
const Shared = "nsrunci"

// User is a normal user to run things as.
type User struct {
	Name     string
	UID, GID int
	Home     string
	// Own reports whether the test made the user: no other process on
	// the machine runs as it then.
	Own bool
}

// Get returns a normal user for the test. It needs the host's real root
// (it skips the test otherwise, in a rootless run too, as
// testenv.RequireRealRoot does) and runuser.
// Shared is used when it exists; otherwise a user is made with useradd -m
// and removed, home included, in Cleanup.
func Get(t testing.TB) User {
	t.Helper()
	testenv.RequireRealRoot(t, "make a normal user and run things as it (useradd, runuser)")
	for _, tool := range []string{"runuser", "useradd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s to run as a normal user with: %v", tool, err)
		}
	}
	name, own := Shared, false
	if _, err := user.Lookup(Shared); err != nil {
		name, own = fmt.Sprintf("nsrunrl%d", os.Getpid()), true
		if out, err := exec.Command("useradd", "-m", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd -m %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("userdel", "-r", name).CombinedOutput(); err != nil {
				t.Errorf("userdel -r %s: %v: %s", name, err, out)
			}
		})
	}
	pw, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(pw.Uid)
	gid, _ := strconv.Atoi(pw.Gid)
	return User{Name: name, UID: uid, GID: gid, Home: pw.HomeDir, Own: own}
}

// Dir returns a new directory, removed in Cleanup, that u can read and
// search (mode 0755, owned by root) or, with owned, that u owns.
func (u User) Dir(t testing.TB, owned bool) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nsrun-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if owned {
		if err := os.Chown(dir, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Copy copies the file src into dir, executable, and returns its path.
func Copy(t testing.TB, src, dir string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// Command returns the command that runs argv as u in dir, through runuser,
// with a clean environment: HOME, USER, LOGNAME, PATH (the standard
// directories) and env.
func (u User) Command(dir string, env []string, argv ...string) *exec.Cmd {
	args := []string{"-u", u.Name, "--", "env", "-i", "HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name,
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
	args = append(append(args, env...), argv...)
	cmd := exec.Command("runuser", args...)
	cmd.Dir = dir
	return cmd
}

// Pids returns the pids of the processes running as u whose command line
// contains marker ("" for every process of u).
func (u User) Pids(marker string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil || !hasUID(string(status), u.UID) {
			continue
		}
		if marker != "" {
			cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
			if err != nil || !strings.Contains(string(cmdline), marker) {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// hasUID reports whether a /proc/PID/status text has uid as real uid.
func hasUID(status string, uid int) bool {
	for _, line := range strings.Split(status, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			return f[1] == strconv.Itoa(uid)
		}
	}
	return false
}

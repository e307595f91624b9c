package testenv

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/nsrun/nsrun/internal/reexec"
)

// mainResult is what nstest.Main found when it tried to run the tests
// rootless; set once, before the tests run.
var mainResult struct {
	sync.Mutex
	tried bool
	err   error
}

// SetRootless records that nstest.Main tried to run the tests rootless and
// could not, because of err (a *reexec.BlockedError when user namespaces
// are blocked): the skips then say so.
func SetRootless(err error) {
	mainResult.Lock()
	defer mainResult.Unlock()
	mainResult.tried, mainResult.err = true, err
}

// detect finds out, once per process, whether user namespaces work.
var detect = sync.OnceValue(reexec.Detect)

// advice says how to get the privilege: the cause and fix when user
// namespaces are blocked, else how to run the tests rootless.
func advice() string {
	mainResult.Lock()
	tried, err := mainResult.tried, mainResult.err
	mainResult.Unlock()
	switch {
	case tried && err != nil:
		return "cannot run rootless: " + err.Error()
	case reexec.InRootless():
		return "inside a rootless nsrun run, the command runs as you, without privileges: add `func TestMain(m *testing.M) { nstest.Main(m) }` to the test package, or run it with `nsrun --as-root`"
	}
	if err := detect(); err != nil {
		return err.Error()
	}
	return "to run rootless, add `func TestMain(m *testing.M) { nstest.Main(m) }` to the test package, or run `go test -exec 'nsrun --as-root'`; or run as root (`go test -exec sudo`)"
}

// realRoot says why this process is not the host's real root (uid 0 of the
// initial user namespace, whose uid map is the identity over every uid), or
// returns nil if it is.
func realRoot() error {
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("euid %d is not root", euid)
	}
	m, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return err
	}
	if f := strings.Fields(string(m)); len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295" {
		return nil
	}
	if uid, _, ok := reexec.OuterIDs(); ok && reexec.InRootless() {
		return fmt.Errorf("this is a rootless run, root of a user namespace that maps only uid %d", uid)
	}
	return fmt.Errorf("root of a user namespace only (uid map %q)", strings.Join(strings.Fields(string(m)), " "))
}

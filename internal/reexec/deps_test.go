package reexec

import (
	"os/exec"
	"strings"
	"testing"
)

// heavyStd are standard packages a re-executed process must not pay for.
var heavyStd = []string{"encoding/json", "regexp", "net", "crypto/", "text/template", "html/template", "go/", "os/user"}

// lightModule are the only packages outside the standard library that this
// package may depend on.
var lightModule = []string{"golang.org/x/sys/", "github.com/nsrun/nsrun/internal/nsthread",
	"github.com/nsrun/nsrun/internal/paths", "github.com/nsrun/nsrun/internal/reexec"}

// TestDependenciesAreLight keeps re-executed processes fast: this package's
// init runs before the packages it does not depend on whose import paths
// sort after its own (netlink, YAML, the core, fixture, runner), and a
// re-executed process exits in it. A dependency on any of those, or on a
// heavy standard package, would be initialised first, in every reaper and
// trampoline.
func TestDependenciesAreLight(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to list dependencies with: %v", err)
	}
	for _, dep := range heavyDeps(t, gobin, ".") {
		t.Errorf("internal/reexec depends on %s; it may depend on the standard library's lighter packages and on %s only",
			dep, strings.Join(lightModule, ", "))
	}
	// The check itself works: runner imports the core, and so netlink.
	if deps := heavyDeps(t, gobin, "../../runner"); len(deps) == 0 {
		t.Error("runner passes the check: it checks nothing")
	}
}

// heavyDeps returns the dependencies of pkg that a re-executed process must
// not initialise.
func heavyDeps(t *testing.T, gobin, pkg string) []string {
	t.Helper()
	cmd := exec.Command(gobin, "list", "-deps", "-f", "{{.Standard}} {{.ImportPath}}", pkg)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && strings.Contains(stderr.String(), "permission denied") {
		// A user without a usable Go cache (nobody, running the compiled
		// test binary), not a problem of the package.
		t.Skipf("go list -deps %s cannot run here: %v: %s", pkg, err, stderr.String())
	}
	if err != nil {
		t.Fatalf("go list -deps %s: %v: %s", pkg, err, stderr.String())
	}
	var heavy []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		std, path, _ := strings.Cut(line, " ")
		if std == "true" && hasPrefix(path, heavyStd) || std != "true" && !hasPrefix(path, lightModule) {
			heavy = append(heavy, path)
		}
	}
	return heavy
}

// hasPrefix reports whether path is one of list, or under one ending in /.
func hasPrefix(path string, list []string) bool {
	for _, p := range list {
		if path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

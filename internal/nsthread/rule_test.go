package nsthread_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// switchers are the calls that change which namespace a thread is in, or
// pin a goroutine to a thread: only this package may make them. (netns.Set,
// netns.New and netlink.NewHandleAt switch the calling thread themselves.)
var switchers = map[string]bool{
	"runtime.LockOSThread": true, "runtime.UnlockOSThread": true,
	"unix.Setns": true, "unix.Unshare": true, "syscall.Setns": true, "syscall.Unshare": true,
	"netns.Set": true, "netns.New": true, "netns.NewNamed": true,
	"netlink.NewHandleAt": true, "netlink.NewHandleAtFrom": true,
}

func TestOnlyThisPackageSwitchesThreads(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	here, _ := filepath.Abs(".")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root {
			// Another module (bench/, which compares nsrun with its peers
			// and so switches threads their way) is not this module's code.
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if filepath.Dir(path) == here {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && switchers[pkg.Name+"."+sel.Sel.Name] {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s calls %s.%s: only internal/nsthread may", rel, pkg.Name, sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

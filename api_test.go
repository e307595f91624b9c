package nsrun_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// apiLimits caps each public package's exported names: top-level consts,
// vars, types and funcs, plus the methods of exported types (struct fields
// are not counted). A new export has to push a limit up in review.
var apiLimits = map[string]int{
	".":       48, // the handle, its options, and one name per ip-netns(8) verb
	"runner":  15,
	"nstest":  7,
	"fixture": 44, // mostly the Spec's data types
}

// TestAPISize counts the exported names of each public package and fails
// if one grows past its limit. Run with -v to see the names.
func TestAPISize(t *testing.T) {
	for dir, limit := range apiLimits {
		names := exportedNames(t, dir)
		t.Logf("%s: %d exported names: %s", dir, len(names), strings.Join(names, " "))
		if len(names) > limit {
			t.Errorf("package %s exports %d names, more than its limit of %d", dir, len(names), limit)
		}
	}
}

// exportedNames lists the exported names declared in dir's non-test files
// (every OS's: an identifier declared for Linux and in a stub counts once).
func exportedNames(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					seen[d.Name.Name] = true
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
					seen[id.Name+"."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							seen[s.Name.Name] = true
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								seen[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

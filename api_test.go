package nsrun_test

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// apiLimits caps each public package's exported names: top-level consts,
// vars, types and funcs, plus the methods of exported types (struct fields
// are not counted). A new export has to push a limit up in review.
var apiLimits = map[string]int{
	".":       48, // the handle, its options, and one name per ip-netns(8) verb
	"runner":  15,
	"nstest":  9,
	"fixture": 63, // the Spec's data types (NAT, Rule, Counters...), Fixture's faults, graphs, ping, firewall
}

// TestAPISize counts the exported names of each public package and fails
// if one grows past its limit. Run with -v to see the names.
func TestAPISize(t *testing.T) {
	for dir, limit := range apiLimits {
		var names []string
		for name, decl := range exportedAPI(t, dir, "linux") {
			if !strings.HasPrefix(decl, "field ") {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		t.Logf("%s: %d exported names: %s", dir, len(names), strings.Join(names, " "))
		if len(names) > limit {
			t.Errorf("package %s exports %d names, more than its limit of %d", dir, len(names), limit)
		}
	}
}

// otherOSes are the systems whose stubs (the *_other.go files) must declare
// exactly the API of the Linux files, so that code written against the
// public packages compiles there too.
var otherOSes = []string{"darwin", "windows"}

// apiExceptions are the declarations allowed to differ off Linux, and why.
var apiExceptions = map[string]string{
	"runner Cmd.Credential": "any off Linux: Windows has no syscall.Credential (a *syscall.Credential still assigns)",
}

// TestAPIParity compares, without building, the exported API each public
// package declares for Linux with the one it declares for each of
// otherOSes: the same names, the same signatures, the same exported struct
// fields.
func TestAPIParity(t *testing.T) {
	for dir := range apiLimits {
		linux := exportedAPI(t, dir, "linux")
		for _, goos := range otherOSes {
			other := exportedAPI(t, dir, goos)
			for name, decl := range linux {
				switch got, ok := other[name]; {
				case apiExceptions[dir+" "+name] != "":
				case !ok:
					t.Errorf("package %s on %s lacks %s (%s)", dir, goos, name, decl)
				case got != decl:
					t.Errorf("package %s: %s is %s on linux but %s on %s", dir, name, decl, got, goos)
				}
			}
			for name, decl := range other {
				if _, ok := linux[name]; !ok {
					t.Errorf("package %s on %s has %s (%s), which linux lacks", dir, goos, name, decl)
				}
			}
		}
	}
}

// exportedAPI returns the exported declarations of dir's non-test files
// that build on goos, each by name (methods as Type.Method, struct fields
// as Type.Field) with its kind and, for funcs, methods and fields, its type
// without parameter names.
func exportedAPI(t *testing.T, dir, goos string) map[string]string {
	t.Helper()
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = goos, "amd64", false
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	api := map[string]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		if ok, err := ctx.MatchFile(dir, filepath.Base(path)); err != nil {
			t.Fatal(err)
		} else if !ok {
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
				addFunc(api, d)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					addSpec(api, d.Tok, s)
				}
			}
		}
	}
	return api
}

// addFunc adds an exported func, or method of an exported type.
func addFunc(api map[string]string, d *ast.FuncDecl) {
	if !d.Name.IsExported() {
		return
	}
	sig := signature(d.Type)
	if d.Recv == nil {
		api[d.Name.Name] = "func" + sig
		return
	}
	recv := d.Recv.List[0].Type
	ptr := ""
	if star, ok := recv.(*ast.StarExpr); ok {
		recv, ptr = star.X, "*"
	}
	if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
		api[id.Name+"."+d.Name.Name] = "method (" + ptr + id.Name + ")" + sig
	}
}

// addSpec adds an exported const, var or type, and a struct's exported fields.
func addSpec(api map[string]string, tok token.Token, s ast.Spec) {
	switch s := s.(type) {
	case *ast.ValueSpec:
		for _, n := range s.Names {
			if n.IsExported() {
				api[n.Name] = tok.String()
			}
		}
	case *ast.TypeSpec:
		if !s.Name.IsExported() {
			return
		}
		st, ok := s.Type.(*ast.StructType)
		if !ok {
			api[s.Name.Name] = "type " + types.ExprString(s.Type)
			return
		}
		api[s.Name.Name] = "type struct"
		for _, fld := range st.Fields.List {
			names := fld.Names
			if len(names) == 0 { // embedded: named by its type
				names = []*ast.Ident{ast.NewIdent(strings.TrimPrefix(types.ExprString(fld.Type), "*"))}
			}
			for _, n := range names {
				if n.IsExported() {
					api[s.Name.Name+"."+n.Name] = "field " + types.ExprString(fld.Type)
				}
			}
		}
	}
}

// signature renders a func type without parameter names.
func signature(ft *ast.FuncType) string {
	list := func(fl *ast.FieldList) string {
		var out []string
		for _, f := range fl.List {
			for range max(1, len(f.Names)) {
				out = append(out, types.ExprString(f.Type))
			}
		}
		return strings.Join(out, ", ")
	}
	sig := "(" + list(ft.Params) + ")"
	if ft.Results != nil {
		sig += " (" + list(ft.Results) + ")"
	}
	return sig
}

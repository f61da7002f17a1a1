package stschain

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sdkImports are the packages of the SDK the root package imports: a
// program that uses it has their init cost anyway.
var sdkImports = []string{
	"github.com/aws/aws-sdk-go-v2/aws",
	"github.com/aws/aws-sdk-go-v2/aws/retry",
	"github.com/aws/aws-sdk-go-v2/aws/transport/http",
	"github.com/aws/aws-sdk-go-v2/credentials",
	"github.com/aws/aws-sdk-go-v2/service/sts",
	"github.com/aws/aws-sdk-go-v2/service/sts/types",
	"github.com/aws/smithy-go",
}

// initCost is what GODEBUG=inittrace=1 says a program's package inits
// allocated, in all and per package.
type initCost struct {
	bytes, allocs int
	byPackage     map[string]int // bytes
}

// measureInit builds a program that imports imports and does nothing, runs
// it with GODEBUG=inittrace=1 and adds up what its inits allocated.
func measureInit(t *testing.T, imports ...string) initCost {
	t.Helper()
	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n")
	for _, p := range imports {
		src.WriteString("\t_ " + strconv.Quote(p) + "\n")
	}
	src.WriteString(")\n\nfunc main() {}\n")
	main := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(main, []byte(src.String()), 0o600))
	goCmd, err := exec.LookPath("go")
	require.NoError(t, err)
	bin := filepath.Join(dir, "init.exe")
	out, err := exec.Command(goCmd, "build", "-o", bin, main).CombinedOutput() // in this module
	require.NoError(t, err, "%s", out)

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var trace bytes.Buffer
	cmd.Stderr = &trace
	require.NoError(t, cmd.Run())
	cost := initCost{byPackage: map[string]int{}}
	for _, line := range strings.Split(trace.String(), "\n") {
		// init PKG @0.5 ms, 0.01 ms clock, 1234 bytes, 5 allocs
		f := strings.Fields(line)
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		b, err1 := strconv.Atoi(f[7])
		a, err2 := strconv.Atoi(f[9])
		require.NoError(t, err1, line)
		require.NoError(t, err2, line)
		cost.bytes += b
		cost.allocs += a
		cost.byPackage[f[1]] += b
	}
	require.NotEmpty(t, cost.byPackage, "no inittrace lines in %q", trace.String())
	return cost
}

// Importing the package costs next to nothing at init beyond the SDK
// packages it needs: no regular expression compiled, no table built. What
// is measured are allocations, which are counts, not times.
func TestInitCostsNothing(t *testing.T) {
	t.Parallel() // it waits for the go command
	sdk := measureInit(t, sdkImports...)
	root := measureInit(t, modulePath)
	for pkg, b := range root.byPackage {
		if inModule(pkg) {
			assert.LessOrEqual(t, b, 1024, "%s allocates %d bytes at init", pkg, b)
		}
	}
	assert.LessOrEqual(t, root.bytes-sdk.bytes, 16<<10,
		"importing the package allocates %d bytes in %d allocations at init, the SDK packages alone %d in %d",
		root.bytes, root.allocs, sdk.bytes, sdk.allocs)
}

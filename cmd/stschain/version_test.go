package main

import (
	"context"
	"os/exec"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionLine(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"released", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "false"},
		}}, true, "stschain v1.2.3, revision 0123456789abcdef0123456789abcdef01234567, go1.26.8 " + platform},
		{"modified tree", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "v0.0.0-20300102030405-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"},
		}}, true, "stschain v0.0.0-20300102030405-0123456789ab+dirty, revision 0123456789abcdef0123456789abcdef01234567 (modified), go1.27.3 " + platform},
		{"-buildvcs=false", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true,
			"stschain (devel), revision unknown, go1.26.8 " + platform},
		{"no build info", nil, false, "stschain unknown, revision unknown, " + runtime.Version() + " " + platform},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, versionLine(tc.bi, tc.ok))
		})
	}
}

// TestVersion runs the built binary: --version and version print one line
// from its build info (go build may or may not record the VCS revision:
// this machine's GOFLAGS say -buildvcs=false).
func TestVersion(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	var outputs []string
	for _, arg := range []string{"--version", "version", "-version"} {
		out, err := exec.CommandContext(context.Background(), bin, arg).CombinedOutput()
		require.NoError(t, err, "%s: %s", arg, out)
		assert.Regexp(t, `^stschain (\(devel\)|v\S+), revision ([0-9a-f]{40}( \(modified\))?|unknown), go\S+ \S+/\S+\n$`, string(out))
		outputs = append(outputs, string(out))
	}
	assert.Equal(t, outputs[0], outputs[1])
	assert.Equal(t, outputs[0], outputs[2])
}

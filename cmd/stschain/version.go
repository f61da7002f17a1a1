package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

func versionCommand() *command {
	return &command{
		name:    "version",
		aliases: []string{"--version", "-version"},
		short:   "print the version stschain was built from",
		long: `Prints the module version and the VCS revision stschain was built from,
and the Go toolchain: "unknown" where the build did not record them (as
with go build -buildvcs=false).
`,
		run: runVersion,
	}
}

func runVersion(_ context.Context, inv *invocation, _ *chainFlags, _ []string) int {
	bi, ok := debug.ReadBuildInfo()
	fmt.Fprintln(inv.stdout, versionLine(bi, ok))
	return exitOK
}

// versionLine describes the build that bi (when ok) reports: the module
// version, the VCS revision and whether the tree had changes, and the Go
// toolchain. What the build does not record ("go build -buildvcs=false",
// a build outside a repository) is "unknown"; a build from a source tree
// without a version tag is version "(devel)".
func versionLine(bi *debug.BuildInfo, ok bool) string {
	version, revision, modified, goVersion := "unknown", "unknown", false, runtime.Version()
	if ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		revision += " (modified)"
	}
	return fmt.Sprintf("stschain %s, revision %s, %s %s/%s", version, revision, goVersion, runtime.GOOS, runtime.GOARCH)
}

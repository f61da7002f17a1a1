package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/usertest"
)

// credential-process works with a cache directory it cannot write (a
// read-only ~/.aws in a container): the cache's lock and store fail, and
// the chain goes on without them. It runs as another user, since root
// writes where it likes.
func TestCredentialProcessWithReadOnlyCache(t *testing.T) {
	uid, gid := usertest.Other(t)
	t.Parallel()
	srv, _ := newServer(t)
	bin := binary(t) // in a directory every user may enter
	public := usertest.PublicTempDir(t)

	home := filepath.Join(public, "home")
	cache := filepath.Join(home, ".aws", "cli", "cache")
	require.NoError(t, os.MkdirAll(cache, 0o700))
	config, credentials := filepath.Join(home, ".aws", "config"), filepath.Join(home, ".aws", "credentials")
	require.NoError(t, os.WriteFile(config, []byte("[profile source]\nregion = us-east-1\n"), 0o600))
	require.NoError(t, os.WriteFile(credentials, []byte("[source]\naws_access_key_id = "+userKey+"\naws_secret_access_key = "+userSecret+"\n"), 0o600))
	for _, p := range []string{home, filepath.Join(home, ".aws"), filepath.Join(home, ".aws", "cli"), cache, config, credentials} {
		require.NoError(t, os.Chown(p, uid, gid))
	}
	require.NoError(t, os.Chmod(cache, 0o500), "read-only for its owner")

	for _, extra := range [][]string{nil, {"--cache-dir", cache}} {
		ctx, cancel := context.WithTimeout(t.Context(), testTime)
		args := append([]string{"credential-process", "--profile", "source", "--role-arn", roleA, "--endpoint-url", srv.URL, "--verbose"}, extra...)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{"HOME=" + home, "AWS_CONFIG_FILE=" + config, "AWS_SHARED_CREDENTIALS_FILE=" + credentials,
			"AWS_EC2_METADATA_DISABLED=true", "PATH=/usr/bin:/bin"}
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		require.NoError(t, err, "stderr: %s", stderr.String())
		decodeOutput(t, stdout.String())
		assert.Contains(t, stderr.String(), "cache lock failed; refreshing without it")
		assert.Contains(t, stderr.String(), "storing credentials in cache failed")
		assertNoSecret(t, stderr.String())
		entries, err := os.ReadDir(cache)
		require.NoError(t, err)
		assert.Empty(t, entries)
	}
}

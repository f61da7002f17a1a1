//go:build unix

package awsprofile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/awsprofile"
)

// A web identity token file that is a device, a FIFO or too large is
// refused at once, without reading it whole or waiting for a writer; a
// symbolic link to a token (as Kubernetes projects them) is followed.
func TestWebIdentityTokenFileIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{web: true}, webRoles()...)
	fifo := filepath.Join(e.dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(e.dir, "big")
	require.NoError(t, os.WriteFile(big, []byte(strings.Repeat("x", 300<<10)), 0o600))
	link := filepath.Join(e.dir, "link")
	require.NoError(t, os.Symlink(filepath.Join(e.dir, "token"), link))

	for _, tc := range []struct{ file, want string }{
		{"/dev/zero", "is a character device, not a regular file"},
		{fifo, "is a named pipe (FIFO), not a regular file"},
		{big, "holds more than 256 KiB"},
		{e.dir, "is a directory, not a regular file"},
		{link, ""},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			cfg, err := awsprofile.LoadConfig(context.Background(), "web", e.opts("[profile web]\nrole_arn = "+roleARN("web")+"\nweb_identity_token_file = "+tc.file+"\n", ""))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err = cfg.Credentials.Retrieve(ctx)
			require.NoError(t, ctx.Err(), "the read did not block")
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

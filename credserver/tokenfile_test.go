package credserver_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/credserver"
)

// TestTokenFile: with Options.TokenFile the token is in a file of this
// user's alone, without a line end, which Env names in place of the token;
// the SDK reads it; Close removes it.
func TestTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.TokenFile = path })
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	env := s.Env()
	require.Len(t, env, 2)
	assert.Equal(t, credserver.FullURIEnv+"="+s.URL(), env[0])
	assert.Equal(t, credserver.AuthTokenFileEnv+"="+path, env[1])
	for _, kv := range env {
		assert.False(t, strings.HasPrefix(kv, credserver.AuthTokenEnv+"="), "no token in the environment")
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Len(t, data, 43, "256 bits in unpadded base64, no line end")

	got, err := endpointcreds.New(s.URL(), func(o *endpointcreds.Options) {
		o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
			b, err := os.ReadFile(path)
			return string(b), err
		})
	}).Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, fixedCreds().AccessKeyID, got.AccessKeyID)

	require.NoError(t, s.Close())
	assert.NoFileExists(t, path)
}

// TestTokenFileRelativePath: Env names the file by its absolute path, for
// a child that runs in another directory.
func TestTokenFileRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.TokenFile = "token" })
	require.NoError(t, err)
	defer s.Close()
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, credserver.AuthTokenFileEnv+"="+filepath.Join(wd, "token"), s.Env()[1])
}

// TestTokenFileExists: an existing file is never written through, and
// stays.
func TestTokenFileExists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte("theirs"), 0o644))
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.TokenFile = path })
	assert.Nil(t, s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "token file "+path+" exists")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "theirs", string(data))
}

// TestTokenFileReplaced: a file that took the token file's name is not
// Close's to remove.
func TestTokenFileReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	s, err := credserver.Start(&countingProvider{creds: fixedCreds()}, func(o *credserver.Options) { o.TokenFile = path })
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.WriteFile(path, []byte("another"), 0o600))
	require.NoError(t, s.Close())
	assert.FileExists(t, path)
}

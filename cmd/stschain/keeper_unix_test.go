//go:build unix

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHoldsURI(t *testing.T) {
	const url = "http://127.0.0.1:4242/credentials"
	for environ, want := range map[string]bool{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + url + "\x00":                true,
		"A=1\x00AWS_CONTAINER_CREDENTIALS_FULL_URI=" + url + "\x00B=2\x00":  true,
		"A=1\x00AWS_CONTAINER_CREDENTIALS_FULL_URI=" + url + "x\x00":        false, // another port or path
		"A=1\x00AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:42\x00": false,
		"XAWS_CONTAINER_CREDENTIALS_FULL_URI=" + url + "\x00":               false,
		"A=AWS_CONTAINER_CREDENTIALS_FULL_URI=" + url + "\x00":              false,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + url:                         false, // cut short
		"": false,
		"A=1\x00AWS_CONTAINER_AUTHORIZATION_TOKEN=x\x00":                      false,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + url + "\x00AWS_PROFILE=x\x00": true,
	} {
		assert.Equal(t, want, holdsURI([]byte(environ), url), "%q", environ)
	}
}

// removeTokenFile removes the file only while it holds the token.
func TestRemoveTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	token := []byte("the-token")

	require.NoError(t, os.WriteFile(path, []byte("another"), 0o600))
	removeTokenFile(path, tokenDigest(token))
	assert.FileExists(t, path, "another file took the name")

	require.NoError(t, os.Remove(path))
	require.NoError(t, os.Symlink(filepath.Join(dir, "target"), path))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "target"), token, 0o600))
	removeTokenFile(path, tokenDigest(token))
	assert.FileExists(t, filepath.Join(dir, "target"), "a link is not followed")
	require.NoError(t, os.Remove(path))

	require.NoError(t, os.WriteFile(path, token, 0o600))
	removeTokenFile(path, tokenDigest(token))
	assert.NoFileExists(t, path)
	removeTokenFile(path, tokenDigest(token)) // gone: nothing to do
}

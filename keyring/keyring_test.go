package keyring

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/awsvaulttest"
)

const testPassphrase = "correct horse battery staple"

// passphrases answers the file backend's questions with one passphrase,
// counting them.
type passphrases struct {
	mu     sync.Mutex
	answer string
	asked  []bool // create, for each question
	dirs   []string
}

func (p *passphrases) fn(_ context.Context, dir string, create bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, create)
	p.dirs = append(p.dirs, dir)
	return p.answer, nil
}

func (p *passphrases) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.asked)
}

// openFile opens the file backend of service in dir.
func openFile(t *testing.T, service Service, dir string, p *passphrases) *Keyring {
	t.Helper()
	k, err := Open(Options{Service: service, Backend: BackendFile, FileDir: dir, Passphrase: p.fn})
	require.NoError(t, err)
	require.Equal(t, BackendFile, k.Backend())
	return k
}

func TestFileBackendRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	p := &passphrases{answer: testPassphrase}
	k := openFile(t, ServiceStschain, dir, p)

	has, err := k.Has(ctx, "alice")
	require.NoError(t, err)
	assert.False(t, has)
	names, err := k.Profiles(ctx)
	require.NoError(t, err)
	assert.Empty(t, names)
	_, err = os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "looking creates no directory")
	_, err = k.Get(ctx, "alice")
	assert.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, k.Set(ctx, "alice", NewKeys(testID, testSecret)))
	assert.Equal(t, []bool{true}, p.asked, "asked once, for a new passphrase")
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	fi, err = os.Stat(filepath.Join(dir, "alice"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	data, err := os.ReadFile(filepath.Join(dir, "alice"))
	require.NoError(t, err)
	assert.NotContains(t, string(data), testSecret, "the file is encrypted")
	assert.NotContains(t, string(data), testID)

	require.NoError(t, k.Set(ctx, "team/bob", NewKeys("AKIABOB0000000000001", testSecret[:39]+"x")))
	assert.Len(t, p.asked, 1, "asked once per keyring")

	// Another process: listing asks nothing, reading asks once.
	p2 := &passphrases{answer: testPassphrase}
	k2 := openFile(t, ServiceStschain, dir, p2)
	names, err = k2.Profiles(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice", "team/bob"}, names)
	has, err = k2.Has(ctx, "team/bob")
	require.NoError(t, err)
	assert.True(t, has)
	assert.Zero(t, p2.count(), "listing asks for no passphrase")
	got, err := k2.Get(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, testID, got.AccessKeyID())
	assert.Equal(t, testSecret, got.SecretAccessKey())
	_, err = k2.Get(ctx, "team/bob")
	require.NoError(t, err)
	assert.Equal(t, []bool{false}, p2.asked)
	real, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{real}, p2.dirs)

	require.NoError(t, k2.Remove(ctx, "alice"))
	assert.ErrorIs(t, k2.Remove(ctx, "alice"), ErrNotFound)
	_, err = k.Get(ctx, "alice")
	assert.ErrorIs(t, err, ErrNotFound)
	names, err = k.Profiles(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"team/bob"}, names)
	assert.Len(t, p2.asked, 1, "removing asks for no passphrase")
}

func TestFileBackendPassphrases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, openFile(t, ServiceStschain, dir, &passphrases{answer: testPassphrase}).Set(ctx, "alice", NewKeys(testID, testSecret)))

	t.Run("wrong on reading", func(t *testing.T) {
		p := &passphrases{answer: "wrong"}
		k := openFile(t, ServiceStschain, dir, p)
		_, err := k.Get(ctx, "alice")
		require.ErrorIs(t, err, ErrWrongPassphrase)
		assert.Equal(t, `keyring: reading the keys of profile "alice" in stschain's keyring (file `+dir+`): the passphrase does not decrypt them (a wrong passphrase, or a damaged file)`, err.Error())
		p.mu.Lock()
		p.answer = testPassphrase
		p.mu.Unlock()
		got, err := k.Get(ctx, "alice")
		require.NoError(t, err, "a wrong passphrase is asked for again")
		assert.Equal(t, testSecret, got.SecretAccessKey())
		assert.Len(t, p.asked, 2)
	})
	t.Run("wrong on storing", func(t *testing.T) {
		k := openFile(t, ServiceStschain, dir, &passphrases{answer: "another one"})
		err := k.Set(ctx, "carol", NewKeys(testID, testSecret))
		require.ErrorIs(t, err, ErrWrongPassphrase)
		assert.Contains(t, err.Error(), `the passphrase does not decrypt the items already in `+dir+` (profile "alice"'s, for one): give theirs`)
		_, err = os.Stat(filepath.Join(dir, "carol"))
		assert.ErrorIs(t, err, os.ErrNotExist, "nothing stored")
	})
	t.Run("empty", func(t *testing.T) {
		k := openFile(t, ServiceStschain, t.TempDir(), &passphrases{})
		err := k.Set(ctx, "alice", NewKeys(testID, testSecret))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the passphrase is empty")
	})
	t.Run("none", func(t *testing.T) {
		k, err := Open(Options{Backend: BackendFile, FileDir: dir})
		require.NoError(t, err)
		_, err = k.Get(ctx, "alice")
		assert.ErrorContains(t, err, "Options.Passphrase is nil")
	})
	t.Run("prompt fails", func(t *testing.T) {
		cause := errors.New("no terminal")
		k, err := Open(Options{Backend: BackendFile, FileDir: dir, Passphrase: func(context.Context, string, bool) (string, error) { return "", cause }})
		require.NoError(t, err)
		_, err = k.Get(ctx, "alice")
		assert.ErrorIs(t, err, cause)
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		p := &passphrases{answer: testPassphrase}
		k := openFile(t, ServiceStschain, dir, p)
		_, err := k.Get(ctx, "alice")
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, k.Set(ctx, "alice", NewKeys(testID, testSecret)), context.Canceled)
		_, err = k.Profiles(ctx)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, p.count())
	})
}

// Many goroutines reading at once ask for the passphrase once.
func TestFileBackendConcurrentReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, openFile(t, ServiceStschain, dir, &passphrases{answer: testPassphrase}).Set(ctx, "alice", NewKeys(testID, testSecret)))
	p := &passphrases{answer: testPassphrase}
	k := openFile(t, ServiceStschain, dir, p)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c, err := k.Provider("alice").Retrieve(ctx)
			assert.NoError(t, err)
			assert.Equal(t, testSecret, c.SecretAccessKey)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, p.count())
}

func TestSetRefusesInvalidKeys(t *testing.T) {
	t.Parallel()
	p := &passphrases{answer: testPassphrase}
	k := openFile(t, ServiceStschain, t.TempDir(), p)
	err := k.Set(context.Background(), "alice", NewKeys(testSecret, testID))
	require.ErrorIs(t, err, ErrInvalidKeys)
	assert.Contains(t, err.Error(), `keyring: storing the keys of profile "alice" in stschain's keyring (file `)
	assert.Contains(t, err.Error(), "(is it the secret access key?)")
	assert.NotContains(t, err.Error(), testSecret)
	assert.Zero(t, p.count(), "refused before asking for a passphrase")
}

func TestProfileNames(t *testing.T) {
	t.Parallel()
	k := openFile(t, ServiceStschain, t.TempDir(), &passphrases{answer: testPassphrase})
	for _, name := range []string{"", "a\nb", "a\x00b", "tab\t"} {
		_, err := k.Has(context.Background(), name)
		assert.ErrorContains(t, err, "is empty or holds a control character", "%q", name)
		assert.Error(t, k.Set(context.Background(), name, NewKeys(testID, testSecret)))
	}
	for _, name := range []string{"a b", "../x", "%2F", "dév"} {
		require.NoError(t, k.Set(context.Background(), name, NewKeys(testID, testSecret)), name)
		got, err := k.Get(context.Background(), name)
		require.NoError(t, err, name)
		assert.Equal(t, testID, got.AccessKeyID())
	}
	names, err := k.Profiles(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"%2F", "../x", "a b", "dév"}, names)
}

// awsVaultFileKeyring writes items into dir as aws-vault does, plus one
// of its cached sessions (vault/sessionkeyring.go's key), an SSO token
// ("oidc:" keys) and a session in an older form.
func awsVaultFileKeyring(t *testing.T, dir, passphrase string, profiles map[string]aws.Credentials) {
	t.Helper()
	require.NoError(t, awsvaulttest.WriteFileKeyring(dir, passphrase, profiles,
		"sts.GetSessionToken,YWxpY2U,,1700000000", "oidc:https://example.awsapps.com/start", "alice session (1500000000)"))
}

func TestAWSVaultFileKeyring(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	awsVaultFileKeyring(t, dir, "vault pass", map[string]aws.Credentials{
		"alice": {AccessKeyID: testID, SecretAccessKey: testSecret},
	})
	p := &passphrases{answer: "vault pass"}
	k := openFile(t, ServiceAWSVault, dir, p)
	assert.Equal(t, "aws-vault's keyring (file "+dir+")", k.String())

	names, err := k.Profiles(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"alice"}, names, "sessions and SSO tokens are not profiles' keys")
	got, err := k.Get(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, testSecret, got.SecretAccessKey())

	err = k.Set(ctx, "alice", NewKeys(testID, testSecret))
	assert.ErrorIs(t, err, ErrReadOnly)
	assert.ErrorContains(t, err, "store them with aws-vault add")
	assert.ErrorIs(t, k.Remove(ctx, "alice"), ErrReadOnly)
	_, err = os.Stat(filepath.Join(dir, "alice"))
	assert.NoError(t, err, "aws-vault's item is left alone")
}

// Lookup takes stschain's keys before aws-vault's, and asks for no
// passphrase until the keys are retrieved.
func TestLookupOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownDir, vaultDir := t.TempDir(), t.TempDir()
	const vaultID = "AKIAVAULT00000000001"
	awsVaultFileKeyring(t, vaultDir, "vault pass", map[string]aws.Credentials{
		"alice": {AccessKeyID: vaultID, SecretAccessKey: testSecret},
		"bob":   {AccessKeyID: vaultID, SecretAccessKey: testSecret},
	})
	require.NoError(t, openFile(t, ServiceStschain, ownDir, &passphrases{answer: testPassphrase}).Set(ctx, "alice", NewKeys(testID, testSecret)))

	ownPass, vaultPass := &passphrases{answer: testPassphrase}, &passphrases{answer: "vault pass"}
	own, vault := openFile(t, ServiceStschain, ownDir, ownPass), openFile(t, ServiceAWSVault, vaultDir, vaultPass)
	for _, tc := range []struct{ profile, id string }{{"alice", testID}, {"bob", vaultID}, {"carol", ""}} {
		before := ownPass.count() + vaultPass.count()
		p, err := Lookup(ctx, tc.profile, nil, own, vault)
		require.NoError(t, err)
		assert.Equal(t, before, ownPass.count()+vaultPass.count(), "found without a passphrase")
		if tc.id == "" {
			assert.Nil(t, p, tc.profile)
			continue
		}
		c, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.Equal(t, tc.id, c.AccessKeyID, tc.profile)
		assert.Empty(t, c.SessionToken)
		assert.False(t, c.CanExpire)
	}
	assert.Equal(t, 1, ownPass.count())
	assert.Equal(t, 1, vaultPass.count())
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown backend", Options{Backend: "vault"}, `keyring: "vault" is not a backend: want one of`},
		{"file without dir", Options{Backend: BackendFile}, "keyring: the file backend needs Options.FileDir"},
		{"unknown service", Options{Service: "gh", Backend: BackendFile, FileDir: "x"}, `keyring: service "gh" is not one: want "stschain" or "aws-vault"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.opts)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// Without a backend named, a system without a keyring service of its own
// (this test's, with no D-Bus session) falls back to the file backend.
func TestOpenDefaultsToTheFile(t *testing.T) {
	t.Parallel()
	for _, b := range Backends() {
		if b == BackendSecretService || b == BackendKWallet || b == BackendKeychain || b == BackendWinCred {
			t.Skipf("skipping: this system has the %s backend", b)
		}
	}
	dir := t.TempDir()
	k, err := Open(Options{FileDir: dir})
	require.NoError(t, err)
	assert.Equal(t, BackendFile, k.Backend())
	assert.Equal(t, dir, k.Dir())
	_, err = Open(Options{})
	assert.ErrorContains(t, err, "keyring: no keyring of this system is available")
}

func TestKeyringRedacted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	k := openFile(t, ServiceStschain, dir, &passphrases{answer: testPassphrase})
	require.NoError(t, k.Set(ctx, "alice", NewKeys(testID, testSecret)))
	_, err := k.Get(ctx, "alice")
	require.NoError(t, err)
	j, err := json.Marshal(k)
	require.NoError(t, err)
	assert.JSONEq(t, `{"Service":"stschain","Backend":"file","Dir":"`+dir+`"}`, string(j))
	assert.Equal(t, `keyring.Provider{profile "alice" in stschain's keyring (file `+dir+`)}`, k.Provider("alice").String())
}

//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/awsvaulttest"
	"github.com/stschain/stschain/keyring"
	"github.com/stschain/stschain/ststest"
)

// An IAM user whose keys the tests keep only in a keyring, and a role it
// may assume. Its secret has the shape add accepts (base64, 40 characters).
const (
	krKey      = "AKIAKEYRINGUSER00001"
	krSecret   = "S2V5cmluZ1NlY3JldERPTk9UUFJJTlQwMDAwMDAw"
	krARN      = "arn:aws:iam::123456789012:user/kr"
	roleKR     = "arn:aws:iam::123456789012:role/FromKeyring"
	krPass     = "keyring test passphrase"
	vaultPass  = "aws-vault test passphrase"
	vaultKey   = "AKIAVAULTUSER0000001"
	keyringCfg = "[profile source]\nregion = us-east-1\n\n[profile kr]\nregion = us-east-1\n\n" +
		"[profile admin]\nregion = us-east-1\nrole_arn = " + roleKR + "\nsource_profile = kr\n"
)

// withKeyringUsers adds user kr (krKey) and user vault (vaultKey, the
// same secret) to the server, and roleKR, which both may assume.
func withKeyringUsers(c *ststest.Config) {
	c.Users = append(c.Users,
		ststest.User{Name: "kr", AccessKeyID: krKey, SecretAccessKey: krSecret},
		ststest.User{Name: "vault", AccessKeyID: vaultKey, SecretAccessKey: krSecret})
	c.Roles = append(c.Roles, ststest.Role{ARN: roleKR, Trust: []string{krARN, "arn:aws:iam::123456789012:user/vault"}})
}

// keyringHome is a testHome whose profile kr holds no keys in the files,
// and whose profile admin assumes roleKR from kr.
func keyringHome(t *testing.T) testHome {
	t.Helper()
	h := newTestHome(t)
	require.NoError(t, os.WriteFile(h.config, []byte(keyringCfg), 0o600))
	return h
}

// fileBackendEnv chooses the file backend with its passphrase.
var fileBackendEnv = []string{"STSCHAIN_BACKEND=file", "STSCHAIN_FILE_PASSPHRASE=" + krPass}

// runDetached runs the built command with h's environment and extra, with
// no controlling terminal, as a script or a service runs it.
func runDetached(t *testing.T, h testHome, extra []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = h.environ(extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	assertNoSecret(t, r.stdout+r.stderr, krSecret, krPass, vaultPass)
	return r
}

// listJSON runs list --json and returns its rows by profile.
func listJSON(t *testing.T, h testHome, extra []string, args ...string) map[string]listRow {
	t.Helper()
	r := runDetached(t, h, extra, append([]string{"list", "--json"}, args...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	var rows []listRow
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows), r.stdout)
	out := map[string]listRow{}
	for _, row := range rows {
		out[row.Profile] = row
	}
	return out
}

// TestKeyringAddListRemove: add stores kr's keys in the file keyring; a
// role chain whose source keys are only there is assumed with them; list
// shows the chain, the keys and the cached session; remove takes them
// away.
func TestKeyringAddListRemove(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, withKeyringUsers)
	h := keyringHome(t)
	keysEnv := append([]string{"AWS_ACCESS_KEY_ID=" + krKey, "AWS_SECRET_ACCESS_KEY=" + krSecret}, fileBackendEnv...)

	r := runDetached(t, h, keysEnv, "add", "kr")
	require.Equal(t, exitOK, r.code, r.stderr)
	dir := filepath.Join(h.dir, ".stschain", "keys")
	assert.Equal(t, `Added the keys of profile kr (access key ****************0001) to stschain's keyring (file `+dir+").\n", r.stderr)
	assert.Empty(t, r.stdout)
	fi, err := os.Stat(filepath.Join(dir, "kr"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	data, err := os.ReadFile(filepath.Join(dir, "kr"))
	require.NoError(t, err)
	assert.NotContains(t, string(data), krSecret)

	rows := listJSON(t, h, fileBackendEnv)
	assert.Equal(t, listRow{Profile: "kr", Root: "keyring", RootProfile: "kr", Chain: []string{"kr"}, Keyring: "stschain", InFiles: true}, rows["kr"])
	assert.Equal(t, listRow{Profile: "admin", Root: "keyring", RootProfile: "kr", Chain: []string{"admin", "kr"}, RoleARN: roleKR, InFiles: true}, rows["admin"])
	assert.Equal(t, listRow{Profile: "source", Root: "static", RootProfile: "source", Chain: []string{"source"}, InFiles: true}, rows["source"])

	// The chain: AssumeRole signed with the keyring's key.
	r = runDetached(t, h, fileBackendEnv, "credential-process", "--profile", "admin", "--endpoint-url", srv.URL, "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, r.stderr)
	out := decodeOutput(t, r.stdout)
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1)
	assert.Equal(t, krKey, calls[0].CallerAccessKeyID)
	assert.Equal(t, roleKR, calls[0].RoleARN)
	assert.Equal(t, calls[0].IssuedAccessKeyID, out.AccessKeyID)

	// list: the session of admin's role in the cache, when it expires.
	rows = listJSON(t, h, fileBackendEnv, "--cache-dir", h.cache)
	require.NotNil(t, rows["admin"].SessionExpiration, "admin's session is in the cache")
	assert.Equal(t, out.Expiration, rows["admin"].SessionExpiration.UTC().Format(expirationLayout))
	assert.Nil(t, rows["kr"].SessionExpiration)
	r = runDetached(t, h, fileBackendEnv, "list", "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 4, r.stdout)
	assert.Equal(t, "PROFILE  ROOT     CHAIN        KEYRING   SESSION", lines[0])
	assert.Regexp(t, `^admin    keyring  admin -> kr  -         `+out.Expiration+` \(in [0-9]+m\)$`, lines[1])
	assert.Equal(t, "kr       keyring  kr           stschain  -", lines[2])
	assert.Equal(t, "source   static   source       -         -", lines[3])
	assert.Len(t, srv.Calls(), 1, "list calls nothing")

	// remove asks, and without a terminal wants --force.
	r = runDetached(t, h, fileBackendEnv, "remove", "kr")
	assert.Equal(t, exitUsage, r.code)
	assert.Equal(t, "stschain remove: no terminal to ask on (open /dev/tty: no such device or address) to confirm: pass --force to remove without asking", failureLine(t, r))
	for _, force := range []string{"--force", "-f"} {
		r = runDetached(t, h, fileBackendEnv, "remove", force, "kr")
		if force == "-f" {
			assert.Equal(t, exitError, r.code)
			assert.Equal(t, `stschain remove: stschain's keyring (file `+dir+`) holds no keys for profile kr`, failureLine(t, r))
			continue
		}
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Equal(t, `Removed the keys of profile kr from stschain's keyring (file `+dir+").\n", r.stderr)
	}
	_, err = os.Stat(filepath.Join(dir, "kr"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Empty(t, listJSON(t, h, fileBackendEnv)["kr"].Keyring)
	r = runDetached(t, h, fileBackendEnv, "credential-process", "--profile", "admin", "--endpoint-url", srv.URL, "--no-cache")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, failureLine(t, r), `the source profile has no credentials: want aws_access_key_id and aws_secret_access_key, `)
	assert.Contains(t, r.stderr, "or keys in the keyring")
}

// awsVaultKeys writes keys into aws-vault's file keyring under h's home
// as aws-vault does.
func awsVaultKeys(t *testing.T, h testHome, profile string, creds aws.Credentials) {
	t.Helper()
	dir := filepath.Join(h.dir, ".awsvault", "keys")
	require.NoError(t, awsvaulttest.WriteFileKeyring(dir, vaultPass, map[string]aws.Credentials{profile: creds}))
}

// TestKeyringFromAWSVault: a chain whose source keys aws-vault's file
// keyring holds uses them; stschain's own keys come first; remove leaves
// aws-vault's alone.
func TestKeyringFromAWSVault(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, withKeyringUsers)
	h := keyringHome(t)
	awsVaultKeys(t, h, "kr", aws.Credentials{AccessKeyID: vaultKey, SecretAccessKey: krSecret})
	env := []string{"STSCHAIN_BACKEND=file", "AWS_VAULT_FILE_PASSPHRASE=" + vaultPass}

	r := runDetached(t, h, env, "credential-process", "--profile", "admin", "--endpoint-url", srv.URL, "--no-cache")
	require.Equal(t, exitOK, r.code, r.stderr)
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1)
	assert.Equal(t, vaultKey, calls[0].CallerAccessKeyID, "signed with aws-vault's key")
	assert.Equal(t, "aws-vault", string(listJSON(t, h, env)["kr"].Keyring))

	r = runDetached(t, h, env, "remove", "--force", "kr")
	assert.Equal(t, exitError, r.code)
	assert.Equal(t, `stschain remove: stschain's keyring (file `+filepath.Join(h.dir, ".stschain", "keys")+`) holds no keys for profile kr; aws-vault's keyring (file `+filepath.Join(h.dir, ".awsvault", "keys")+`) does, which stschain never changes: use aws-vault remove`, failureLine(t, r))

	// stschain's own keys win over aws-vault's.
	r = runDetached(t, h, append([]string{"AWS_ACCESS_KEY_ID=" + krKey, "AWS_SECRET_ACCESS_KEY=" + krSecret}, fileBackendEnv...), "add", "kr")
	require.Equal(t, exitOK, r.code, r.stderr)
	srv.ResetCalls()
	r = runDetached(t, h, append(env, fileBackendEnv...), "credential-process", "--profile", "admin", "--endpoint-url", srv.URL, "--no-cache")
	require.Equal(t, exitOK, r.code, r.stderr)
	calls = srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1)
	assert.Equal(t, krKey, calls[0].CallerAccessKeyID, "signed with stschain's key")

	// A wrong passphrase for aws-vault's keyring fails, without echoing it.
	require.NoError(t, os.RemoveAll(filepath.Join(h.dir, ".stschain")))
	r = runDetached(t, h, []string{"STSCHAIN_BACKEND=file", "AWS_VAULT_FILE_PASSPHRASE=wrong"}, "credential-process", "--profile", "admin", "--endpoint-url", srv.URL, "--no-cache")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, failureLine(t, r), `keyring: reading the keys of profile "kr" in aws-vault's keyring (file `)
	assert.Contains(t, r.stderr, "the passphrase does not decrypt them")
}

// TestKeyringAddRefuses: add refuses keys of the wrong shape, temporary
// credentials, a profile whose chain would not use the keys, and asks no
// terminal that is not there; nothing is stored then.
func TestKeyringAddRefuses(t *testing.T) {
	t.Parallel()
	h := keyringHome(t)
	require.NoError(t, os.WriteFile(h.config, []byte(keyringCfg+"\n[profile sso]\nsso_session = s\nsso_account_id = 123456789012\nsso_role_name = r\n[sso-session s]\nsso_region = us-east-1\nsso_start_url = https://x.awsapps.com/start\n"), 0o600))
	keys := func(id, secret string) []string {
		return append([]string{"AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret}, fileBackendEnv...)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"swapped keys", keys(krSecret, krKey), []string{"kr"}, exitUsage,
			"stschain add: keyring: invalid keys: the access key ID (40 characters) is not one (is it the secret access key?): want 16 to 128 upper-case letters and digits, such as AKIAIOSFODNN7EXAMPLE"},
		{"temporary credentials", append(keys("ASIAKEYRINGUSER00001", krSecret), "AWS_SESSION_TOKEN=token"), []string{"kr"}, exitUsage,
			"stschain add: AWS_SESSION_TOKEN is set: these are temporary credentials, and the keyring keeps an IAM user's long-term keys"},
		{"one key", append([]string{"AWS_ACCESS_KEY_ID=" + krKey}, fileBackendEnv...), []string{"kr"}, exitUsage,
			"stschain add: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY give the keys together: set both, or neither to type them"},
		{"no terminal", fileBackendEnv, []string{"kr"}, exitUsage,
			"stschain add: no terminal to ask on (open /dev/tty: no such device or address): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to give the keys"},
		{"keys in the files", keys(krKey, krSecret), []string{"source"}, exitUsage,
			`stschain add: profile source would not use keys from the keyring: its chain starts with static (profile source), which the files set; remove those settings from the files first`},
		{"source_profile", keys(krKey, krSecret), []string{"admin"}, exitUsage,
			`stschain add: profile admin would not use keys from the keyring: its chain starts with keyring (profile kr); add the keys to profile kr, at the root of the chain, instead`},
		{"SSO", keys(krKey, krSecret), []string{"sso"}, exitUsage,
			`stschain add: profile sso would not use keys from the keyring: its chain starts with SSO (profile sso), which the files set; remove those settings from the files first`},
		{"odd name", keys(krKey, krSecret), []string{"new one"}, exitUsage,
			`stschain add: profile "new one" is in no config file, and stschain writes sections only for names of letters, digits and -_.@+: write its [profile ...] section first`},
		{"no profile", fileBackendEnv, nil, exitUsage, "stschain add: want stschain add [flags] PROFILE"},
		{"two profiles", fileBackendEnv, []string{"a", "b"}, exitUsage, `stschain add: unexpected argument b: want stschain add [flags] PROFILE`},
		{"unknown backend", keys(krKey, krSecret), []string{"--backend", "vault", "kr"}, exitUsage, `stschain add: invalid value "vault" for flag -backend: want one of `},
		{"unknown backend variable", append(keys(krKey, krSecret), "STSCHAIN_BACKEND=vault"), []string{"kr"}, exitUsage, `stschain add: STSCHAIN_BACKEND vault is not a keyring backend: want one of `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runDetached(t, h, tc.env, append([]string{"add"}, tc.args...)...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			line := failureLine(t, r)
			assert.True(t, strings.HasPrefix(line, tc.want), "%s\nwant prefix\n%s", line, tc.want)
			assert.NotContains(t, r.stderr, krSecret)
		})
	}
	_, err := os.Stat(filepath.Join(h.dir, ".stschain"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing stored")
}

// TestKeyringAddNewProfile: add of a profile in no config file writes its
// section, and the profile then works alone.
func TestKeyringAddNewProfile(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, withKeyringUsers)
	h := keyringHome(t)
	require.NoError(t, os.WriteFile(h.config, []byte(strings.TrimSuffix(keyringCfg, "\n")), 0o600))
	r := runDetached(t, h, append([]string{"AWS_ACCESS_KEY_ID=" + krKey, "AWS_SECRET_ACCESS_KEY=" + krSecret}, fileBackendEnv...), "add", "fresh")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Added [profile fresh] to "+h.config+".\n")
	data, err := os.ReadFile(h.config)
	require.NoError(t, err)
	assert.Equal(t, keyringCfg+"[profile fresh]\n", string(data))

	r = runDetached(t, h, fileBackendEnv, "credential-process", "--profile", "fresh", "--role-arn", roleKR, "--endpoint-url", srv.URL, "--no-cache")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, krKey, srv.Calls(ststest.Call{Action: "AssumeRole"})[0].CallerAccessKeyID)
}

// TestKeyringRoleWithoutSource: a profile with role_arn and no source in
// the files assumes its role with its own keys from the keyring, as
// aws-vault does.
func TestKeyringRoleWithoutSource(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, withKeyringUsers)
	h := keyringHome(t)
	require.NoError(t, os.WriteFile(h.config, []byte("[profile dev]\nregion = us-east-1\nrole_arn = "+roleKR+"\n"), 0o600))
	r := runDetached(t, h, append([]string{"AWS_ACCESS_KEY_ID=" + krKey, "AWS_SECRET_ACCESS_KEY=" + krSecret}, fileBackendEnv...), "add", "dev")
	require.Equal(t, exitOK, r.code, r.stderr)
	r = runDetached(t, h, fileBackendEnv, "export", "--profile", "dev", "--endpoint-url", srv.URL, "--no-cache")
	require.Equal(t, exitOK, r.code, r.stderr)
	calls := srv.Calls(ststest.Call{Action: "AssumeRole"})
	require.Len(t, calls, 1)
	assert.Equal(t, krKey, calls[0].CallerAccessKeyID)
	assert.Equal(t, roleKR, calls[0].RoleARN)
}

// TestKeyringLeavesFilesAlone: chains whose profiles have credentials in
// the files never open a keyring, whatever the keyring setting says.
func TestKeyringLeavesFilesAlone(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	h := newTestHome(t)
	// A backend that cannot be opened here, and a file keyring directory
	// that cannot be used: neither matters.
	r := runDetached(t, h, []string{"STSCHAIN_BACKEND=file", "STSCHAIN_FILE_DIR=/dev/null/keys"},
		"credential-process", "--profile", "source", "--role-arn", roleA, "--endpoint-url", srv.URL, "--no-cache")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
}

// The passphrases of the keyrings never reach exec's command.
func TestExecDropsKeyringPassphrases(t *testing.T) {
	env := childEnv([]string{"PATH=/bin", keyringPassphraseEnv + "=x", awsVaultPassphraseEnv + "=y", "STSCHAIN_BACKEND=file"}, "", nil)
	assert.Equal(t, []string{"PATH=/bin", "STSCHAIN_BACKEND=file"}, env)
}

// TestKeyringListOddProfiles: list shows keys whose profile is in no file,
// and a profile that cannot be used, saying why on stderr.
func TestKeyringListOddProfiles(t *testing.T) {
	t.Parallel()
	h := keyringHome(t)
	require.NoError(t, os.WriteFile(h.config, []byte(keyringCfg+"\n[profile loop]\nrole_arn = "+roleKR+"\nsource_profile = loop\n"), 0o600))
	awsVaultKeys(t, h, "ghost", aws.Credentials{AccessKeyID: vaultKey, SecretAccessKey: krSecret})
	env := []string{"STSCHAIN_BACKEND=file"}

	rows := listJSON(t, h, env)
	assert.Equal(t, listRow{Profile: "ghost", Keyring: "aws-vault"}, rows["ghost"])
	assert.Equal(t, listRow{Profile: "loop", InFiles: true, Error: `awsprofile: profile "loop" (loop -> loop): source_profile "loop" is the profile itself, which holds no static keys: a profile may be its own source only to assume its role with its own keys`}, rows["loop"])

	r := runDetached(t, h, env, "list")
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "\nghost    -                    (in no config file)  aws-vault  -\n")
	assert.Contains(t, r.stdout, "\nloop     invalid              -                    -          -\n")
	assert.Contains(t, r.stderr, "stschain list: "+rows["loop"].Error+"\n")
	assert.Contains(t, r.stderr, `stschain list: awsprofile: profile "kr" (admin -> kr): the source profile has no credentials`)
}

// TestKeyringUnsafeDirectory: a file keyring another user could write is
// not used: an error when the file backend was chosen, a warning from
// list when it was the default.
func TestKeyringUnsafeDirectory(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, withKeyringUsers)
	h := keyringHome(t)
	r := runDetached(t, h, append([]string{"AWS_ACCESS_KEY_ID=" + krKey, "AWS_SECRET_ACCESS_KEY=" + krSecret}, fileBackendEnv...), "add", "kr")
	require.Equal(t, exitOK, r.code, r.stderr)
	dir := filepath.Join(h.dir, ".stschain", "keys")
	require.NoError(t, os.Chmod(dir, 0o777))

	r = runDetached(t, h, fileBackendEnv, "credential-process", "--profile", "admin", "--endpoint-url", srv.URL, "--no-cache")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, failureLine(t, r), "the keyring directory "+dir+" is writable by group or others (mode 0777), who could plant or replace keys in it: take their write permission away (chmod go-w "+dir+")")
	assert.Empty(t, srv.Calls())

	r = runDetached(t, h, fileBackendEnv, "list")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, failureLine(t, r), "stschain list: keyring: listing stschain's keyring (file "+dir+"): the keyring directory")

	for _, b := range []keyring.Backend{keyring.BackendSecretService, keyring.BackendKWallet, keyring.BackendKeychain, keyring.BackendWinCred} {
		if slices.Contains(keyring.Backends(), b) {
			return // the default is not the file backend here
		}
	}
	r = runDetached(t, h, nil, "list")
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stderr, "stschain list: leaving out stschain's keyring: keyring: listing stschain's keyring (file "+dir+"): the keyring directory")
	assert.Contains(t, r.stdout, "\nkr       Ec2InstanceMetadata  kr")
}

package awsprofile_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/keyring"
	"github.com/stschain/stschain/ststest"
)

// fakeKeyring is an Options.Keys over a map, recording the profiles asked
// for and counting the retrievals of each provider.
type fakeKeyring struct {
	keys map[string]aws.Credentials

	mu        sync.Mutex
	asked     []string
	retrieved map[string]int
}

func newFakeKeyring(keys map[string]aws.Credentials) *fakeKeyring {
	return &fakeKeyring{keys: keys, retrieved: map[string]int{}}
}

func (k *fakeKeyring) fn(_ context.Context, profile string) (aws.CredentialsProvider, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.asked = append(k.asked, profile)
	c, ok := k.keys[profile]
	if !ok {
		return nil, nil
	}
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.retrieved[profile]++
		return c, nil
	}), nil
}

func (k *fakeKeyring) state() (asked []string, retrieved map[string]int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]int{}
	for p, n := range k.retrieved {
		out[p] = n
	}
	return slices.Clone(k.asked), out
}

var (
	aliceKeys = aws.Credentials{AccessKeyID: aliceKey, SecretAccessKey: aliceSec}
	bobKeys   = aws.Credentials{AccessKeyID: bobKey, SecretAccessKey: bobSec}
)

// A profile with no credentials in the files takes Options.Keys's, as the
// source of a role chain or alone; its keys are read when the chain first
// needs them, once.
func TestKeysForProfilesWithoutCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("deploy")}, ststest.Role{ARN: roleARN("deep"), Trust: []string{roleARN("deploy")}})
	configText := `
[profile alice]
region = eu-west-1
[profile deploy]
role_arn = ` + roleARN("deploy") + `
source_profile = alice
[profile deep]
role_arn = ` + roleARN("deep") + `
source_profile = deploy
`
	k := newFakeKeyring(map[string]aws.Credentials{"alice": aliceKeys})
	chain, err := awsprofile.LoadChain(context.Background(), "deep", e.opts(configText, "", func(o *awsprofile.Options) { o.Keys = k.fn }))
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindKeyring, awsprofile.KindAssumeRole, awsprofile.KindAssumeRole}, kinds(chain))
	assert.Equal(t, "keyring (profile alice) -> AssumeRole "+roleARN("deploy")+" (profile deploy) -> AssumeRole "+roleARN("deep")+" (profile deep)", chain.String())
	asked, retrieved := k.state()
	assert.Equal(t, []string{"alice"}, asked)
	assert.Empty(t, retrieved, "LoadChain reads no keys")

	for range 2 {
		_, err = chain.Config.Credentials.Retrieve(context.Background())
		require.NoError(t, err)
	}
	assertCalls(t, []call{
		{Action: "AssumeRole", Role: roleARN("deploy"), Signer: aliceKey, Session: "<generated>", Status: 200},
		{Action: "AssumeRole", Role: roleARN("deep"), Signer: "issued by #1", Session: "<generated>", Status: 200},
	}, e.srv)
	_, retrieved = k.state()
	assert.Equal(t, map[string]int{"alice": 1}, retrieved)

	// The profile alone.
	chain, err = awsprofile.LoadChain(context.Background(), "alice", e.opts(configText, "", func(o *awsprofile.Options) { o.Keys = k.fn }))
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.Link{{Kind: awsprofile.KindKeyring, Profile: "alice", Provider: chain.Links[0].Provider}}, chain.Links)
	assert.Equal(t, "eu-west-1", chain.Config.Region)
	c, err := chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, aliceKey, c.AccessKeyID)
}

// A role with no source in the files is assumed with its own profile's
// keys, as aws-vault does: no source_profile at all, or itself as
// source_profile without static keys.
func TestKeysOfTheRolesOwnProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("deploy")})
	for _, tc := range []struct{ name, config string }{
		{"no source", "[profile deploy]\nrole_arn = " + roleARN("deploy") + "\n"},
		{"itself", "[profile deploy]\nrole_arn = " + roleARN("deploy") + "\nsource_profile = deploy\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKeyring(map[string]aws.Credentials{"deploy": bobKeys})
			chain, err := awsprofile.LoadChain(context.Background(), "deploy", e.opts(tc.config, "", func(o *awsprofile.Options) { o.Keys = k.fn }))
			require.NoError(t, err)
			assert.Equal(t, "keyring (profile deploy) -> AssumeRole "+roleARN("deploy")+" (profile deploy)", chain.String())
			e.srv.ResetCalls()
			_, err = chain.Config.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			assertCalls(t, []call{{Action: "AssumeRole", Role: roleARN("deploy"), Signer: bobKey, Session: "<generated>", Status: 200}}, e.srv)

			// Without keys, it is the error it was.
			_, err = awsprofile.LoadChain(context.Background(), "deploy", e.opts(tc.config, "", func(o *awsprofile.Options) { o.Keys = newFakeKeyring(nil).fn }))
			require.ErrorIs(t, err, awsprofile.ErrInvalidConfig)
		})
	}
}

// The files' credentials win: Options.Keys is not even asked for a
// profile that has some, nor for one whose role has a source in the files.
func TestFilesCredentialsWinOverKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("deploy")})
	configText := "[profile alice]\n[profile deploy]\nrole_arn = " + roleARN("deploy") + "\nsource_profile = alice\n" +
		"[profile proc]\ncredential_process = echo\n"
	k := newFakeKeyring(map[string]aws.Credentials{"alice": bobKeys, "deploy": bobKeys, "proc": bobKeys})
	for _, profile := range []string{"deploy", "alice", "proc"} {
		chain, err := awsprofile.LoadChain(context.Background(), profile, e.opts(configText, aliceCredentials, func(o *awsprofile.Options) { o.Keys = k.fn }))
		require.NoError(t, err, profile)
		assert.NotEqual(t, awsprofile.KindKeyring, chain.Links[0].Kind, profile)
	}
	asked, _ := k.state()
	assert.Empty(t, asked)

	_, creds := retrieve(t, "deploy", e.opts(configText, aliceCredentials, func(o *awsprofile.Options) { o.Keys = k.fn }))
	assert.NotEmpty(t, creds.SessionToken)
	assert.Equal(t, aliceKey, e.srv.Calls(ststest.Call{Action: "AssumeRole"})[0].CallerAccessKeyID)
}

// Without keys anywhere, the errors say that the keyring would do.
func TestKeysMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	configText := "[profile alice]\n[profile deploy]\nrole_arn = " + roleARN("deploy") + "\nsource_profile = alice\n[profile lone]\nrole_arn = " + roleARN("deploy") + "\n"
	k := newFakeKeyring(nil)
	for profile, want := range map[string]string{
		"deploy": `awsprofile: profile "alice" (deploy -> alice): the source profile has no credentials: want aws_access_key_id and aws_secret_access_key, role_arn with source_profile or credential_source, web_identity_token_file + role_arn, SSO settings, login_session or credential_process, or keys in the keyring`,
		"lone":   `awsprofile: profile "lone": role_arn ` + roleARN("deploy") + ` has neither source_profile nor credential_source: want exactly one of them (or the profile's keys in the keyring)`,
	} {
		_, err := awsprofile.LoadChain(context.Background(), profile, e.opts(configText, "", func(o *awsprofile.Options) { o.Keys = k.fn }))
		require.ErrorIs(t, err, awsprofile.ErrInvalidConfig)
		assert.Equal(t, want, err.Error())
	}
	// A profile with nothing falls back to the instance, as before.
	chain, err := awsprofile.LoadChain(context.Background(), "alice", e.opts(configText, "", func(o *awsprofile.Options) { o.Keys = k.fn }))
	require.NoError(t, err)
	assert.Equal(t, awsprofile.KindEc2InstanceMetadata, chain.Links[0].Kind)
}

// An error of Options.Keys fails LoadChain, naming the profile; it is not
// a configuration error.
func TestKeysError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cause := errors.New("the keyring is locked")
	_, err := awsprofile.LoadChain(context.Background(), "alice", e.opts("[profile alice]\n", "", func(o *awsprofile.Options) {
		o.Keys = func(context.Context, string) (aws.CredentialsProvider, error) { return nil, cause }
	}))
	require.ErrorIs(t, err, cause)
	assert.NotErrorIs(t, err, awsprofile.ErrInvalidConfig)
	assert.Equal(t, `awsprofile: profile "alice": looking for its keys outside the files: the keyring is locked`, err.Error())
}

// Keys from Options.Keys are long-term: SessionDuration puts its MFA
// session on them without reading them first.
func TestKeysSessionDuration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("admin"), Trust: []string{aliceARN}, RequireMFA: true})
	configText := "[profile alice]\n[profile admin]\nrole_arn = " + roleARN("admin") + "\nsource_profile = alice\nmfa_serial = {{serial}}\n"
	k := newFakeKeyring(map[string]aws.Credentials{"alice": aliceKeys})
	codes := e.tokenCodes()
	chain, err := awsprofile.LoadChain(context.Background(), "admin", e.opts(configText, "", func(o *awsprofile.Options) {
		o.Keys = k.fn
		o.SessionDuration = 12 * time.Hour
		o.TokenCode = codes.fn
	}))
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindKeyring, awsprofile.KindSessionToken, awsprofile.KindAssumeRole}, kinds(chain))
	_, retrieved := k.state()
	assert.Empty(t, retrieved)
	_, err = chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assertCalls(t, []call{
		{Action: "GetSessionToken", Signer: aliceKey, Serial: e.serial, Duration: 12 * 3600, Status: 200},
		{Action: "AssumeRole", Role: roleARN("admin"), Signer: "issued by #1", Session: "<generated>", Status: 200},
	}, e.srv)
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names, err := awsprofile.Profiles(e.opts("[default]\n[profile b]\n[profile \"c d\"]\n[sso-session s]\n[services x]\n", "[a]\n[b]\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c d", "default"}, names)

	names, err = awsprofile.Profiles(func(o *awsprofile.Options) { o.ConfigFiles, o.CredentialsFiles = []string{}, []string{} })
	require.NoError(t, err)
	assert.Empty(t, names)
}

// Long-term keys kept in an OS keyring (here its file backend) for a
// profile that has none in the files: the source of a role.
func ExampleOptions_keys() {
	srv := ststest.NewServer(ststest.Config{
		AccountID: "123456789012",
		Users:     []ststest.User{{Name: "alice", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		Roles:     []ststest.Role{{ARN: "arn:aws:iam::123456789012:role/dev", Trust: []string{"arn:aws:iam::123456789012:user/alice"}}},
	})
	defer srv.Close()
	dir, err := os.MkdirTemp("", "awsprofile-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "config")
	err = os.WriteFile(config, []byte("[profile alice]\n\n[profile dev]\nregion = us-east-1\nendpoint_url = "+srv.URL+
		"\nrole_arn = arn:aws:iam::123456789012:role/dev\nsource_profile = alice\nrole_session_name = alice\n"), 0o600)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	ring, err := keyring.Open(keyring.Options{
		Backend:    keyring.BackendFile,
		FileDir:    filepath.Join(dir, "keys"),
		Passphrase: func(context.Context, string, bool) (string, error) { return "correct horse battery staple", nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	err = ring.Set(ctx, "alice", keyring.NewKeys("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
	if err != nil {
		log.Fatal(err)
	}
	chain, err := awsprofile.LoadChain(ctx, "dev", func(o *awsprofile.Options) {
		o.ConfigFiles, o.CredentialsFiles = []string{config}, []string{}
		o.Keys = func(ctx context.Context, profile string) (aws.CredentialsProvider, error) {
			return keyring.Lookup(ctx, profile, ring)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(chain)
	id, err := sts.NewFromConfig(chain.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(aws.ToString(id.Arn))
	// Output:
	// keyring (profile alice) -> AssumeRole arn:aws:iam::123456789012:role/dev (profile dev)
	// arn:aws:sts::123456789012:assumed-role/dev/alice
}

package awsprofile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

// recordingClient is an stschain.STSClient that forwards to a real client
// and keeps each AssumeRole input, for what the fake STS does not record.
type recordingClient struct {
	*sts.Client
	mu     sync.Mutex
	inputs []sts.AssumeRoleInput
}

func (r *recordingClient) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	r.mu.Lock()
	r.inputs = append(r.inputs, *in)
	r.mu.Unlock()
	return r.Client.AssumeRole(ctx, in, optFns...)
}

// Rule 7: every setting of a role link reaches AssumeRole, aws-vault's
// included, and the profile's region is the config's.
func TestRoleLinkSettings(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{region: "eu-central-1"}, ststest.Role{ARN: roleARN("ext"), Trust: []string{aliceARN}, ExternalID: "ext-123", RequireMFA: true})
	rec := &recordingClient{Client: sts.NewFromConfig(e.srv.AWSConfig("alice"))}
	codes := e.tokenCodes()
	opts := e.opts(`
[profile top]
region = eu-central-1
role_arn = `+roleARN("ext")+`
source_profile = alice
external_id = ext-123
role_session_name = deployer
duration_seconds = 900
mfa_serial = {{serial}}
source_identity = alice-laptop
session_tags = team=blue, project = x
transitive_session_tags = team
`, aliceCredentials, func(o *awsprofile.Options) {
		o.TokenCode = codes.fn
		o.LinkOptions = append(o.LinkOptions, func(so *stschain.Options) { so.Client = rec })
	})
	cfg, creds := retrieve(t, "top", opts)
	assert.Equal(t, "eu-central-1", cfg.Region)
	assert.Equal(t, account, creds.AccountID)

	assertCalls(t, []call{{Action: "AssumeRole", Role: roleARN("ext"), Signer: aliceKey, Session: "deployer", Serial: e.serial, Duration: 900, Status: 200}}, e.srv)
	assert.Equal(t, e.codes[0], e.srv.Calls()[0].TokenCode)
	assert.Equal(t, []string{e.serial}, codes.asked)
	require.Len(t, rec.inputs, 1)
	in := rec.inputs[0]
	assert.Equal(t, "ext-123", aws.ToString(in.ExternalId), "the role requires it, and the call succeeded")
	assert.Equal(t, "alice-laptop", aws.ToString(in.SourceIdentity))
	var tags []string
	for _, tag := range in.Tags {
		tags = append(tags, aws.ToString(tag.Key)+"="+aws.ToString(tag.Value))
	}
	assert.Equal(t, []string{"project=x", "team=blue"}, tags)
	assert.Equal(t, []string{"team"}, in.TransitiveTagKeys)
}

// mfa_process gives the codes of its profile's link, unless
// Options.TokenCode is set.
func TestMFAProcess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		ownCodes bool
	}{{"mfa_process", false}, {"Options.TokenCode wins", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ststest.Role{ARN: roleARN("admin"), RequireMFA: true})
			codes := e.tokenCodes()
			codes.codes = codes.codes[10:]
			opts := e.opts(`
[profile admin]
role_arn = `+roleARN("admin")+`
source_profile = alice
mfa_serial = {{serial}}
mfa_process = test "$STSCHAIN_MFA_SERIAL" = {{serial}} && echo `+e.codes[4]+`
`, aliceCredentials, func(o *awsprofile.Options) {
				if tc.ownCodes {
					o.TokenCode = codes.fn
				}
			})
			retrieve(t, "admin", opts)
			want := e.codes[4]
			if tc.ownCodes {
				want = e.codes[10]
			}
			assert.Equal(t, want, e.srv.Calls()[0].TokenCode)
			assert.Equal(t, 200, e.srv.Calls()[0].Status)
		})
	}
}

// Options.Prompt asks for the codes of the links without mfa_process;
// mfa_process still gives its own profile's.
func TestPrompt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("admin"), RequireMFA: true})
	prompt := e.tokenCodes()
	prompt.codes = prompt.codes[10:]
	opts := e.opts(`
[profile admin]
role_arn = `+roleARN("admin")+`
source_profile = alice
mfa_serial = {{serial}}
mfa_process = echo `+e.codes[4]+`

[profile plain]
role_arn = `+roleARN("admin")+`
source_profile = alice
mfa_serial = {{serial}}
`, aliceCredentials, func(o *awsprofile.Options) { o.Prompt = prompt.fn })
	retrieve(t, "admin", opts)
	retrieve(t, "plain", opts)
	calls := e.srv.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, []string{e.codes[4], e.codes[10]}, []string{calls[0].TokenCode, calls[1].TokenCode})
	assert.Equal(t, []string{e.serial}, prompt.asked, "the prompt asked for plain's code only")
}

// Chain.TokenCode gives what gives the codes of a device a profile of the
// chain names, for a link put on top with the same device: the
// profile's mfa_process here.
func TestChainTokenCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("admin"), RequireMFA: true})
	chain, err := awsprofile.LoadChain(context.Background(), "admin", e.opts(`
[profile admin]
role_arn = `+roleARN("admin")+`
source_profile = alice
mfa_serial = {{serial}}
mfa_process = test "$STSCHAIN_MFA_SERIAL" = {{serial}} && echo 424242
`, aliceCredentials))
	require.NoError(t, err)
	fn := chain.TokenCode(e.serial)
	require.NotNil(t, fn)
	code, err := fn(context.Background(), e.serial)
	require.NoError(t, err)
	assert.Equal(t, "424242", code)
	assert.Nil(t, chain.TokenCode("arn:aws:iam::"+account+":mfa/other"), "a device no profile names")

	// aws-vault keeps the device beside the keys.
	chain, err = awsprofile.LoadChain(context.Background(), "keys", e.opts(`
[profile keys]
mfa_serial = {{serial}}
mfa_process = echo 515151
`, "[keys]\naws_access_key_id = "+aliceKey+"\naws_secret_access_key = "+aliceSec+"\n"))
	require.NoError(t, err)
	require.NotNil(t, chain.TokenCode(e.serial))
	code, err = chain.TokenCode(e.serial)(context.Background(), e.serial)
	require.NoError(t, err)
	assert.Equal(t, "515151", code)
	assert.Empty(t, e.srv.Calls())
}

// Rule 9: every role link refreshes on its own schedule: refreshing the
// top link re-assumes no inner role that is not due.
func TestTopRefreshLeavesInnerLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("r1")}, ststest.Role{ARN: roleARN("r2")}, ststest.Role{ARN: roleARN("r3")})
	chain, err := awsprofile.LoadChain(context.Background(), "r3", e.opts(`
[profile r1]
role_arn = `+roleARN("r1")+`
source_profile = alice
[profile r2]
role_arn = `+roleARN("r2")+`
source_profile = r1
[profile r3]
role_arn = `+roleARN("r3")+`
source_profile = r2
`, aliceCredentials))
	require.NoError(t, err)
	seen := map[string]bool{}
	for range 4 {
		c, err := chain.Top().Refresh(context.Background())
		require.NoError(t, err)
		seen[c.AccessKeyID] = true
	}
	assert.Len(t, seen, 4)
	assert.Len(t, e.srv.Calls(ststest.Call{Action: "AssumeRole"}), 6)
	for role, n := range map[string]int{"r1": 1, "r2": 1, "r3": 4} {
		got := 0
		for _, c := range e.srv.Calls(ststest.Call{Action: "AssumeRole"}) {
			if c.RoleARN == roleARN(role) {
				got++
			}
		}
		assert.Equal(t, n, got, role)
	}
}

// Rule 9, in time: with a top session of seconds, the top link refreshes
// in the background while callers keep going, and the inner links, whose
// sessions last, are not asked again. In a synctest bubble with the fake
// STS in memory: the sessions pass in fake time.
func TestTopLinkRefreshesInTheBackground(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cf, crf := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	require.NoError(t, os.WriteFile(cf, []byte(`
[profile inner]
role_arn = `+roleARN("inner")+`
source_profile = alice
[profile top]
role_arn = `+roleARN("top")+`
source_profile = inner
`), 0o600))
	require.NoError(t, os.WriteFile(crf, []byte(aliceCredentials), 0o600))
	synctest.Test(t, func(t *testing.T) {
		srv := ststest.NewInMemoryServer(ststest.Config{
			AccountID: account,
			Users:     []ststest.User{{Name: "alice", AccessKeyID: aliceKey, SecretAccessKey: aliceSec}},
			Roles:     []ststest.Role{{ARN: roleARN("inner"), Trust: []string{account}}, {ARN: roleARN("top"), Trust: []string{account}, Lifetime: 4 * time.Second}},
		})
		defer srv.Close()
		var mu sync.Mutex
		var events []stschain.RefreshEvent
		chain, err := awsprofile.LoadChain(context.Background(), "top", func(o *awsprofile.Options) {
			o.ConfigFiles, o.CredentialsFiles = []string{cf}, []string{crf}
			o.LoadOptions = []func(*config.LoadOptions) error{config.WithBaseEndpoint(srv.URL), config.WithHTTPClient(srv.Client()), config.WithRegion("us-east-1")}
			o.LinkOptions = []func(*stschain.Options){func(so *stschain.Options) {
				so.OnRefresh = func(ev stschain.RefreshEvent) {
					mu.Lock()
					events = append(events, ev)
					mu.Unlock()
				}
			}}
		})
		require.NoError(t, err)
		seen := map[string]bool{}
		for i := 0; len(seen) < 3 && i < 2000; i++ {
			c, err := chain.Config.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			seen[c.AccessKeyID] = true
			time.Sleep(10 * time.Millisecond)
		}
		require.Len(t, seen, 3, "the top link went through three sessions")
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		var top, inner []stschain.RefreshEvent
		for _, ev := range events {
			if ev.Link == roleARN("top") {
				top = append(top, ev)
			} else {
				inner = append(inner, ev)
			}
		}
		require.Len(t, inner, 1, "the inner link refreshed once")
		assert.False(t, inner[0].Background, "its first refresh had a caller waiting")
		require.GreaterOrEqual(t, len(top), 3)
		assert.False(t, top[0].Background)
		for _, ev := range top[1:] {
			assert.True(t, ev.Background, "no caller waited for a later refresh of the top link")
			assert.Equal(t, stschain.RefreshOK, ev.Outcome)
		}
		assert.Len(t, srv.Calls(ststest.Call{Action: "AssumeRole"}), len(top)+1)
	})
}

// cacheEntries returns the FileCache files in dir, split by whether they
// hold an AssumeRole session.
func cacheEntries(t *testing.T, dir string) (roles, sessions []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var entry map[string]any
		require.NoError(t, json.Unmarshal(b, &entry))
		if _, ok := entry["AssumedRoleUser"]; ok {
			roles = append(roles, f)
		} else {
			sessions = append(sessions, f)
		}
	}
	return roles, sessions
}

// Rule 10: with SessionDuration, one MFA GetSessionToken session sits on
// the long-term keys and the roles above are assumed from it without MFA;
// with a FileCache, across restarts too.
func TestSessionDuration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("admin"), Trust: []string{aliceARN}, RequireMFA: true}, ststest.Role{ARN: roleARN("deep"), Trust: []string{roleARN("admin")}})
	cacheDir := filepath.Join(e.dir, "cache")
	cache, err := stschain.NewFileCache(cacheDir)
	require.NoError(t, err)
	configText := `
[profile admin]
role_arn = ` + roleARN("admin") + `
source_profile = alice
mfa_serial = {{serial}}
[profile deep]
role_arn = ` + roleARN("deep") + `
source_profile = admin
`
	codes := e.tokenCodes()
	load := func(tokenCode stschain.TokenCodeFunc) *awsprofile.Chain {
		chain, err := awsprofile.LoadChain(context.Background(), "deep", e.opts(configText, aliceCredentials, func(o *awsprofile.Options) {
			o.SessionDuration = 8 * time.Hour
			o.Cache = cache
			o.TokenCode = tokenCode
		}))
		require.NoError(t, err)
		return chain
	}

	chain := load(codes.fn)
	assert.Equal(t, []awsprofile.Link{
		{Kind: awsprofile.KindStatic, Profile: "alice", Provider: chain.Links[0].Provider},
		{Kind: awsprofile.KindSessionToken, Profile: "admin", SerialNumber: e.serial, Provider: chain.Links[1].Provider},
		{Kind: awsprofile.KindAssumeRole, Profile: "admin", RoleARN: roleARN("admin"), Provider: chain.Links[2].Provider},
		{Kind: awsprofile.KindAssumeRole, Profile: "deep", RoleARN: roleARN("deep"), Provider: chain.Top()},
	}, chain.Links)
	first, err := chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assertCalls(t, []call{
		{Action: "GetSessionToken", Signer: aliceKey, Serial: e.serial, Duration: 8 * 3600, Status: 200},
		{Action: "AssumeRole", Role: roleARN("admin"), Signer: "issued by #1", Session: "<generated>", Status: 200},
		{Action: "AssumeRole", Role: roleARN("deep"), Signer: "issued by #2", Session: "<generated>", Status: 200},
	}, e.srv)
	assert.Equal(t, 1, codes.count(), "one prompt")
	session := e.srv.Calls(ststest.Call{Action: "GetSessionToken"})[0].IssuedAccessKeyID
	roles, sessions := cacheEntries(t, cacheDir)
	require.Len(t, roles, 2)
	require.Len(t, sessions, 1)

	// A restart with every session cached makes no STS call at all.
	e.srv.ResetCalls()
	again, err := load(noTokenCode(t)).Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, first.AccessKeyID, again.AccessKeyID)
	assert.Zero(t, len(e.srv.Calls()))

	// Once the role sessions are gone, the roles are assumed from the
	// cached MFA session: no prompt, no GetSessionToken.
	for _, f := range roles {
		require.NoError(t, os.Remove(f))
	}
	_, err = load(noTokenCode(t)).Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Zero(t, len(e.srv.Calls(ststest.Call{Action: "GetSessionToken"})))
	require.Len(t, e.srv.Calls(ststest.Call{Action: "AssumeRole"}), 2)
	assert.Equal(t, session, e.srv.Calls(ststest.Call{Action: "AssumeRole"})[0].CallerAccessKeyID, "admin assumed with the cached MFA session")
	assert.Empty(t, e.srv.Calls(ststest.Call{Action: "AssumeRole"})[0].SerialNumber)
}

// The MFA session of SessionDuration also sits on a credential_process
// root that prints long-term keys (a password manager), and not on one
// that prints a session.
func TestSessionDurationOverProcessRoot(t *testing.T) {
	t.Parallel()
	for _, longTerm := range []bool{true, false} {
		t.Run(fmt.Sprintf("longTerm=%v", longTerm), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ststest.Role{ARN: roleARN("admin"), Trust: []string{aliceARN}, RequireMFA: true})
			codes := e.tokenCodes()
			chain, err := awsprofile.LoadChain(context.Background(), "admin", e.opts(`
[profile pm]
credential_process = `+e.countingProcess(map[bool]string{true: "alice"}[longTerm])+`
[profile admin]
role_arn = `+roleARN("admin")+`
source_profile = pm
mfa_serial = {{serial}}
`, "", func(o *awsprofile.Options) {
				o.SessionDuration = 8 * time.Hour
				o.TokenCode = codes.fn
			}))
			require.NoError(t, err)
			want := []awsprofile.LinkKind{awsprofile.KindProcess, awsprofile.KindAssumeRole}
			if longTerm {
				want = []awsprofile.LinkKind{awsprofile.KindProcess, awsprofile.KindSessionToken, awsprofile.KindAssumeRole}
			}
			assert.Equal(t, want, kinds(chain))
			long, err := chain.Links[0].LongTermKeys(context.Background())
			require.NoError(t, err)
			assert.Equal(t, longTerm, long)
			assert.Equal(t, 1, e.runs(), "the process ran once, for both")
			assert.Empty(t, e.srv.Calls(), "loading calls nothing")
			if !longTerm {
				return
			}
			_, err = chain.Config.Credentials.Retrieve(context.Background())
			require.NoError(t, err)
			assertCalls(t, []call{
				{Action: "GetSessionToken", Signer: aliceKey, Serial: e.serial, Duration: 8 * 3600, Status: 200},
				{Action: "AssumeRole", Role: roleARN("admin"), Signer: "issued by #1", Session: "<generated>", Status: 200},
			}, e.srv)
		})
	}
}

// SessionDuration changes nothing where rule 10 does not apply: a root of
// session keys, or a chain without mfa_serial.
func TestSessionDurationDoesNotApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("admin")})
	for _, tc := range []struct {
		name, config, credentials string
	}{
		{"no mfa_serial", "[profile top]\nrole_arn = " + roleARN("admin") + "\nsource_profile = alice\n", aliceCredentials},
		{"session keys", "[profile top]\nrole_arn = " + roleARN("admin") + "\nsource_profile = tmp\nmfa_serial = {{serial}}\n",
			"[tmp]\naws_access_key_id = ASIATEMPORARY0000001\naws_secret_access_key = x\naws_session_token = y\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain, err := awsprofile.LoadChain(context.Background(), "top", e.opts(tc.config, tc.credentials, func(o *awsprofile.Options) {
				o.SessionDuration = time.Hour
				o.TokenCode = noTokenCode(t)
			}))
			require.NoError(t, err)
			assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindStatic, awsprofile.KindAssumeRole}, kinds(chain))
		})
	}
}

// A profile without role_arn is what the SDK makes of it.
func TestProfileWithoutRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opts := e.opts("[profile alice]\nregion = ap-south-1\n", aliceCredentials)
	chain, err := awsprofile.LoadChain(context.Background(), "alice", opts)
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindStatic}, kinds(chain))
	assert.Nil(t, chain.Top())

	var o awsprofile.Options
	opts(&o)
	sdk, err := config.LoadDefaultConfig(context.Background(), append(o.LoadOptions, config.WithSharedConfigProfile("alice"),
		config.WithSharedConfigFiles(o.ConfigFiles), config.WithSharedCredentialsFiles(o.CredentialsFiles))...)
	require.NoError(t, err)
	assert.Equal(t, sdk.Region, chain.Config.Region)
	want, err := sdk.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	got, err := chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// The returned config is the SDK's for the profile, but for Credentials.
func TestConfigIsTheSDKs(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{region: "sa-east-1"}, ststest.Role{ARN: roleARN("deploy")})
	opts := e.opts("[profile deploy]\nregion = sa-east-1\nrole_arn = "+roleARN("deploy")+"\nsource_profile = alice\nsdk_ua_app_id = myapp\n", aliceCredentials)
	cfg, err := awsprofile.LoadConfig(context.Background(), "deploy", opts)
	require.NoError(t, err)
	var o awsprofile.Options
	opts(&o)
	sdk, err := config.LoadDefaultConfig(context.Background(), append(o.LoadOptions, config.WithSharedConfigProfile("deploy"),
		config.WithSharedConfigFiles(o.ConfigFiles), config.WithSharedCredentialsFiles(o.CredentialsFiles))...)
	require.NoError(t, err)
	assert.Equal(t, sdk.Region, cfg.Region)
	assert.Equal(t, sdk.BaseEndpoint, cfg.BaseEndpoint)
	assert.Equal(t, sdk.RetryMaxAttempts, cfg.RetryMaxAttempts)
	assert.Equal(t, "myapp", cfg.AppID)
	assert.Equal(t, sdk.HTTPClient, cfg.HTTPClient)
	assert.Equal(t, len(sdk.ConfigSources), len(cfg.ConfigSources))
	assert.IsType(t, (*stschain.ChainableProvider)(nil), cfg.Credentials)
}

// The selected profile: the one named, else AWS_PROFILE, else "default";
// keys in the environment win over AWS_PROFILE, as in the SDK and the AWS
// CLI. Not parallel: it sets the environment.
func TestProfileFromEnvironment(t *testing.T) {
	e := newEnv(t, ststest.Role{ARN: roleARN("deploy")}, ststest.Role{ARN: roleARN("def")})
	opts := e.opts(`
[default]
role_arn = `+roleARN("def")+`
source_profile = alice
[profile deploy]
role_arn = `+roleARN("deploy")+`
source_profile = alice
`, aliceCredentials)
	load := func() *awsprofile.Chain {
		chain, err := awsprofile.LoadChain(context.Background(), "", opts)
		require.NoError(t, err)
		return chain
	}
	chain := load()
	assert.Equal(t, "default", chain.Profile)
	assert.Equal(t, roleARN("def"), chain.Links[1].RoleARN)

	t.Setenv("AWS_PROFILE", "deploy")
	chain = load()
	assert.Equal(t, "deploy", chain.Profile)
	assert.Equal(t, roleARN("deploy"), chain.Links[1].RoleARN)

	t.Setenv("AWS_ACCESS_KEY_ID", bobKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", bobSec)
	chain = load()
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindEnvironment}, kinds(chain))
	assert.Equal(t, "deploy", chain.Profile, "the profile still gives the config")
	assert.Empty(t, chain.Links[0].Profile, "but not the credentials")
	c, err := chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, bobKey, c.AccessKeyID)

	// Named, the profile wins over the environment's keys.
	named, err := awsprofile.LoadChain(context.Background(), "deploy", opts)
	require.NoError(t, err)
	assert.Equal(t, []awsprofile.LinkKind{awsprofile.KindStatic, awsprofile.KindAssumeRole}, kinds(named))
}

// Every STS call of the chain goes to the endpoint the config resolves,
// however it is given. Not parallel: it sets the environment.
func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name, env, profileKeys string
	}{
		{name: "AWS_ENDPOINT_URL", env: "AWS_ENDPOINT_URL"},
		{name: "AWS_ENDPOINT_URL_STS", env: "AWS_ENDPOINT_URL_STS"},
		{name: "endpoint_url", profileKeys: "endpoint_url = {{url}}\n"},
		{name: "services section", profileKeys: "services = local\n[services local]\nsts =\n  endpoint_url = {{url}}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, envOptions{region: "us-west-2"}, ststest.Role{ARN: roleARN("r1")}, ststest.Role{ARN: roleARN("r2")})
			if tc.env != "" {
				t.Setenv(tc.env, e.srv.URL)
			}
			cf, crf := e.files(`
[profile r1]
role_arn = `+roleARN("r1")+`
source_profile = alice
[profile r2]
region = us-west-2
role_arn = `+roleARN("r2")+`
source_profile = r1
`+tc.profileKeys, aliceCredentials)
			cfg, err := awsprofile.LoadConfig(context.Background(), "r2", func(o *awsprofile.Options) {
				o.ConfigFiles, o.CredentialsFiles = []string{cf}, []string{crf}
			})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			require.NoError(t, err)
			assert.Contains(t, aws.ToString(id.Arn), ":assumed-role/r2/")
			assert.Equal(t, []string{"AssumeRole", "AssumeRole", "GetCallerIdentity"}, actions(e.srv))
		})
	}
}

func actions(srv *ststest.Server) []string {
	var out []string
	for _, c := range srv.Calls() {
		out = append(out, c.Action)
	}
	return slices.Clip(out)
}

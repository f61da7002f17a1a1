package awsprofile

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shellSplit splits section names as Python's shlex.split does (the
// expectations are Python's answers).
func TestShellSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{`profile "my profile"`, []string{"profile", "my profile"}, false},
		{`profile a\ b`, []string{"profile", "a b"}, false},
		{`profile 'x y'`, []string{"profile", "x y"}, false},
		{`profile "a\"b"`, []string{"profile", `a"b`}, false},
		{`profile "missing`, nil, true},
		{`profile "x" "y"`, []string{"profile", "x", "y"}, false},
		{"profile  tab\tx", []string{"profile", "tab", "x"}, false},
	} {
		got, err := shellSplit(tc.in)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

// The SSO cache key is botocore's: the SHA-1 of json.dumps(args,
// sort_keys=True, separators=(",", ":")), non-ASCII escaped (Python's
// answer).
func TestSSOCacheKeyIsBotocores(t *testing.T) {
	s := ssoPlan{accountID: "123456789012", roleName: "dév", session: "a\"b\\c\n\t😀"}
	assert.Equal(t, "1819caa34ac2b4cb239053655f52ee5959cc8c97", ssoCacheKey(s))
}

// Lines are read as the SDK's parser reads them.
func TestParseINI(t *testing.T) {
	secs := parseINI([]byte("key = before any section\n[profile a] ; comment\n" +
		"region = eu-west-1 # comment\nrole_arn: 'arn'\ns3 =\n  addressing_style = path\nlong = one\n  two\n" +
		"[profile a]\nregion = eu-west-2\nnot a key\n[ profile b ]\nX = 1\n"))
	require.Len(t, secs, 2)
	a := secs[0]
	assert.Equal(t, "profile a", a.name)
	assert.Equal(t, "eu-west-2", a.values["region"].value, "a repeated section adds its keys, the later winning")
	assert.Equal(t, "arn", a.values["role_arn"].value)
	assert.Equal(t, "", a.values["s3"].value)
	assert.Equal(t, []string{"s3 =", "  addressing_style = path"}, a.values["s3"].lines)
	assert.Equal(t, "one\ntwo", a.values["long"].value)
	assert.Equal(t, "profile b", secs[1].name)
	assert.Equal(t, "1", secs[1].values["x"].value)
}

// No file makes the reader or the chain's resolution panic, and every
// refusal is a ConfigError.
func FuzzResolvePlan(f *testing.F) {
	for _, seed := range []string{
		"[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\n[profile b]\naws_access_key_id = A\naws_secret_access_key = B\n",
		"[profile \"a b\"]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n[sso-session s]\nsso_region = us-east-1\nsso_start_url = u\n",
		"[default]\ncredential_process = x\n[profile default]\nrole_arn = r\ncredential_source = Environment\n",
		"[profile a]\nrole_arn = r\nsource_profile = a\nweb_identity_token_file = t\ns3 =\n  x = y\n",
		"[profile 'unclosed]\n[profile a\\]\nkey\n = \n:\n[]\n[ ]\n",
	} {
		f.Add(seed, "a")
	}
	f.Fuzz(func(t *testing.T, text, profile string) {
		files := &sharedFiles{profiles: map[string]*fileProfile{}, ssoSessions: map[string]map[string]string{}}
		files.addConfig(parseINI([]byte(text)))
		for _, explicit := range []bool{false, true} {
			p, err := resolvePlan(context.Background(), files, config.EnvConfig{}, profile, explicit, false, nil)
			if err != nil {
				var ce *ConfigError
				require.ErrorAs(t, err, &ce)
				continue
			}
			require.NotEmpty(t, p.root.kind)
		}
		if p := files.profiles[profile]; p != nil {
			_ = files.sdkCopy(p)
		}
	})
}

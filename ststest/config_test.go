package ststest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"bad account", func(c *Config) { c.AccountID = "123" }, "AccountID"},
		{"key not AKIA", func(c *Config) { c.Users[0].AccessKeyID = "ASIAALICE00000000000" }, "AKIA"},
		{"duplicate key", func(c *Config) { c.Users[1].AccessKeyID = aliceKey }, "duplicate AccessKeyID"},
		{"duplicate user", func(c *Config) { c.Users[1].Name = "alice" }, "duplicate user name"},
		{"empty secret", func(c *Config) { c.Users[1].SecretAccessKey = "" }, "SecretAccessKey"},
		{"codes without serial", func(c *Config) { c.Users[0].MFASerial = "" }, "MFASerial"},
		{"bad code", func(c *Config) { c.Users[0].MFACodes = []string{"12345"} }, "six digits"},
		{"bad totp secret", func(c *Config) { c.Users[2].TOTPSecret = "not base32!" }, "TOTPSecret"},
		{"bad role arn", func(c *Config) { c.Roles[0].ARN = "arn:aws:iam::123456789012:user/x" }, "ARN"},
		{"duplicate role", func(c *Config) { c.Roles[1].ARN = roleA }, "duplicate role"},
		{"bad trust", func(c *Config) { c.Roles[0].Trust = []string{"alice"} }, "Trust entry"},
		{"max too long", func(c *Config) { c.Roles[0].MaxSessionDuration = 13 * time.Hour }, "MaxSessionDuration"},
		{"max too short", func(c *Config) { c.Roles[0].MaxSessionDuration = time.Minute }, "MaxSessionDuration"},
		{"negative lifetime", func(c *Config) { c.Roles[0].Lifetime = -time.Second }, "Lifetime"},
		{"negative session lifetime", func(c *Config) { c.SessionTokenLifetime = -1 }, "SessionTokenLifetime"},
		{"negative max calls", func(c *Config) { c.MaxCalls = -1 }, "Config.MaxCalls is negative"},
		{"bad region", func(c *Config) { c.Region = "EU_WEST" }, `Config.Region "EU_WEST" is not a region name`},
		{"region", func(c *Config) { c.Region = "eu-west-1" }, ""},
		{"oidc provider trust", func(c *Config) { c.Roles[0].Trust = []string{"arn:aws:iam::123456789012:oidc-provider/" + ciProvider} }, ""},
		{"web token too short", func(c *Config) {
			c.WebIdentityTokens = []WebIdentityToken{{Token: "abc", Provider: ciProvider, Subject: ciSubject}}
		}, "WebIdentityTokens[0] (subject \"" + ciSubject + "\"): Token must be 4 to 20000 characters"},
		{"duplicate web token", func(c *Config) {
			c.WebIdentityTokens = []WebIdentityToken{{Token: ciToken, Provider: ciProvider, Subject: ciSubject}, {Token: ciToken, Provider: eksProvider, Subject: eksSubject}}
		}, "WebIdentityTokens[1] (subject \"" + eksSubject + "\"): duplicate Token"},
		{"provider with scheme", func(c *Config) {
			c.WebIdentityTokens = []WebIdentityToken{{Token: ciToken, Provider: "https://" + ciProvider, Subject: ciSubject}}
		}, "without its scheme"},
		{"provider missing", func(c *Config) {
			c.WebIdentityTokens = []WebIdentityToken{{Token: ciToken, Subject: ciSubject}}
		}, "Provider \"\" must be the issuer URL"},
		{"subject too short", func(c *Config) {
			c.WebIdentityTokens = []WebIdentityToken{{Token: ciToken, Provider: ciProvider, Subject: "me"}}
		}, "Subject must be 6 to 255 characters"},
		{"bad external id", func(c *Config) { c.Roles[4].ExternalID = "x" }, "ExternalID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "ststest: ")
			assert.NotContains(t, err.Error(), "secret")
			assert.NotContains(t, err.Error(), ciToken, "a web identity token is a credential")
			assert.PanicsWithError(t, err.Error(), func() { NewServer(cfg) })
		})
	}
}

func TestNewServerCopiesConfig(t *testing.T) {
	cfg := testConfig()
	s := newTestServer(t, cfg)
	cfg.Users[0].SecretAccessKey = "changed"
	cfg.Roles[0].Trust[0] = "999999999999"
	v, err := s.UserCredentials("alice").Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "alice-secret", v.SecretAccessKey)
	assert.Equal(t, "arn:aws:iam::123456789012:user/alice", s.cfg.Roles[0].Trust[0])
}

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{
		"AccountID": "123456789012",
		"SessionTokenLifetime": 30,
		"MaxCalls": 500,
		"Region": "eu-west-1",
		"Users": [{"Name": "alice", "AccessKeyID": "AKIAALICE00000000000", "SecretAccessKey": "s",
		           "MFASerial": "arn:aws:iam::123456789012:mfa/alice", "MFACodes": ["123456"]}],
		"Roles": [{"ARN": "arn:aws:iam::123456789012:role/A", "Trust": ["123456789012"],
		           "RequireMFA": true, "ExternalID": "ext", "MaxSessionDuration": "12h", "Lifetime": "10s"}],
		"WebIdentityTokens": [{"Token": "tok-en", "Provider": "token.actions.githubusercontent.com",
		                       "Subject": "repo:octo/app:ref:refs/heads/main", "Audience": "sigstore",
		                       "Expires": "2030-01-02T15:04:05Z"}]
	}`))
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, cfg.SessionTokenLifetime)
	assert.Equal(t, 500, cfg.MaxCalls)
	assert.Equal(t, "eu-west-1", cfg.Region)
	assert.Equal(t, []WebIdentityToken{{Token: "tok-en", Provider: "token.actions.githubusercontent.com",
		Subject: "repo:octo/app:ref:refs/heads/main", Audience: "sigstore",
		Expires: time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)}}, cfg.WebIdentityTokens)
	assert.Equal(t, []string{"123456"}, cfg.Users[0].MFACodes)
	assert.Equal(t, Role{ARN: "arn:aws:iam::123456789012:role/A", Trust: []string{"123456789012"}, RequireMFA: true,
		ExternalID: "ext", MaxSessionDuration: 12 * time.Hour, Lifetime: 10 * time.Second}, cfg.Roles[0])

	for _, bad := range []string{
		`{"AccountID": "123456789012", "Bogus": 1}`,
		`{"AccountID": "123456789012", "SessionTokenLifetime": "ten"}`,
		`{"AccountID": "123456789012", "SessionTokenLifetime": 1.5}`,
		`{"AccountID": "12"}`,
		`{"AccountID": "123456789012", "MaxCalls": -1}`,
		`{"AccountID": "123456789012", "MaxCalls": "10"}`,
		`{"AccountID": "123456789012", "WebIdentityTokens": [{"Token": "tok-en", "Provider": "p.example", "Subject": "subject", "Expires": "tomorrow"}]}`,
		`{"AccountID": "123456789012", "WebIdentityTokens": [{"Token": "tok-en", "Provider": "p.example", "Subject": "subject", "Bogus": 1}]}`,
		`not json`,
	} {
		_, err := ParseConfig([]byte(bad))
		assert.Error(t, err, bad)
	}
}

package awsprofile_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/ststest"
)

// keyCache records the keys looked up, and holds nothing.
type keyCache struct {
	mu   sync.Mutex
	keys []string
}

func (c *keyCache) Load(_ context.Context, key string) (stschain.CacheEntry, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, key)
	return stschain.CacheEntry{}, false, nil
}

func (c *keyCache) Store(context.Context, string, stschain.CacheEntry) error { return nil }

func (c *keyCache) first(t *testing.T) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, c.keys)
	return c.keys[0]
}

var errNoMaster = errors.New("no master")

// TopRole gives the options of the chain's top role link, as LoadChain
// builds it: a provider of them looks up the same cache key as the chain's
// top link (the first lookup of a Retrieve); and it says when the top is
// no role of the profiles.
func TestTopRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("admin")}, ststest.Role{ARN: roleARN("ops")})
	config := `
[profile admin]
role_arn = ` + roleARN("admin") + `
source_profile = alice
mfa_serial = {{serial}}
external_id = ext-1
duration_seconds = 1800
session_tags = team=blue
transitive_session_tags = team
source_identity = alice

[profile ops]
role_arn = ` + roleARN("ops") + `
source_profile = admin
role_session_name = ops-session

[profile plain]
region = eu-west-1
`
	for _, tc := range []struct {
		profile string
		role    string
	}{{"admin", roleARN("admin")}, {"ops", roleARN("ops")}} {
		t.Run(tc.profile, func(t *testing.T) {
			opts, ok, err := awsprofile.TopRole(context.Background(), tc.profile, e.opts(config, aliceCredentials))
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, tc.role, opts.RoleARN)

			chainCache := &keyCache{}
			chain, err := awsprofile.LoadChain(context.Background(), tc.profile, e.opts(config, aliceCredentials, func(o *awsprofile.Options) {
				o.Cache = chainCache
				o.TokenCode = func(context.Context, string) (string, error) { return "", errNoMaster }
			}))
			require.NoError(t, err)
			_, _ = chain.Config.Credentials.Retrieve(context.Background())

			topCache := &keyCache{}
			top, err := stschain.New(aws.Config{}, func(o *stschain.Options) {
				*o = opts
				o.Cache = topCache
				o.TokenCode = func(context.Context, string) (string, error) { return "", errNoMaster }
				o.MasterCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, errNoMaster })
			})
			require.NoError(t, err)
			_, err = top.Retrieve(context.Background())
			require.ErrorIs(t, err, errNoMaster)
			assert.Equal(t, chainCache.first(t), topCache.first(t), "the same cache key")
		})
	}

	_, ok, err := awsprofile.TopRole(context.Background(), "plain", e.opts(config, aliceCredentials))
	assert.NoError(t, err)
	assert.False(t, ok, "no role")
	_, ok, err = awsprofile.TopRole(context.Background(), "admin", e.opts(config, aliceCredentials, func(o *awsprofile.Options) { o.SessionDuration = time.Hour }))
	assert.NoError(t, err)
	assert.False(t, ok, "a session link would take the MFA device")
	_, _, err = awsprofile.TopRole(context.Background(), "nosuch", e.opts(config, aliceCredentials))
	assert.ErrorIs(t, err, awsprofile.ErrProfileNotFound)
}

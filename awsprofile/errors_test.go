package awsprofile_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
)

// Rule 8: a wrong configuration is an error naming the profiles, and no
// STS call is made.
func TestWrongConfigs(t *testing.T) {
	t.Parallel()
	role := func(name string) string { return "role_arn = " + roleARN(name) + "\n" }
	for _, tc := range []struct {
		name, config, credentials, profile string
		wantProfile                        string
		wantChain                          []string
		wantText                           string
		notFound                           bool
	}{
		{name: "loop", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = b\n[profile b]\n" + role("b") + "source_profile = a\n",
			wantProfile: "b", wantChain: []string{"a", "b", "a"}, wantText: `source_profile "a" makes a loop`},
		{name: "loop through a profile with keys", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = b\naws_access_key_id = " + bobKey + "\naws_secret_access_key = " + bobSec + "\n[profile b]\n" + role("b") + "source_profile = a\n",
			wantProfile: "b", wantChain: []string{"a", "b", "a"}, wantText: `source_profile "a" makes a loop`},
		{name: "loop further down", profile: "top",
			config:      "[profile top]\n" + role("top") + "source_profile = a\n[profile a]\n" + role("a") + "source_profile = b\n[profile b]\n" + role("b") + "source_profile = a\n",
			wantProfile: "b", wantChain: []string{"top", "a", "b", "a"}, wantText: "loop"},
		{name: "own source without keys", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = a\n",
			wantProfile: "a", wantChain: []string{"a", "a"}, wantText: "is the profile itself, which holds no static keys"},
		{name: "missing source profile", profile: "a", notFound: true,
			config:      "[profile a]\n" + role("a") + "source_profile = b\n[profile b]\n" + role("b") + "source_profile = nope\n",
			wantProfile: "nope", wantChain: []string{"a", "b", "nope"}, wantText: `source_profile "nope" of profile "b" is in none of the files`},
		{name: "source_profile and credential_source", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = alice\ncredential_source = Environment\n",
			credentials: aliceCredentials,
			wantProfile: "a", wantText: "source_profile and credential_source are set together"},
		{name: "source_profile and credential_source further down", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = b\n[profile b]\n" + role("b") + "source_profile = alice\ncredential_source = Environment\n",
			credentials: aliceCredentials,
			wantProfile: "b", wantChain: []string{"a", "b"}, wantText: "source_profile and credential_source are set together"},
		{name: "role_arn with neither", profile: "a",
			config:      "[profile a]\n" + role("a"),
			wantProfile: "a", wantText: "has neither source_profile nor credential_source"},
		{name: "role_arn with neither, as a source", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = b\n[profile b]\n" + role("b"),
			wantProfile: "b", wantChain: []string{"a", "b"}, wantText: "has neither source_profile nor credential_source"},
		{name: "role_arn with only static keys", profile: "a",
			config:      "[profile a]\n" + role("a") + "aws_access_key_id = " + bobKey + "\naws_secret_access_key = " + bobSec + "\n",
			wantProfile: "a", wantText: "has neither source_profile nor credential_source"},
		{name: "access key without secret", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = alice\n",
			credentials: "[alice]\naws_access_key_id = " + aliceKey + "\n",
			wantProfile: "alice", wantChain: []string{"a", "alice"}, wantText: "aws_access_key_id is set without aws_secret_access_key"},
		{name: "secret without access key", profile: "alice",
			config:      "[profile alice]\naws_secret_access_key = " + aliceSec + "\n",
			wantProfile: "alice", wantText: "aws_secret_access_key is set without aws_access_key_id"},
		{name: "unknown credential_source", profile: "a",
			config:      "[profile a]\n" + role("a") + "credential_source = Ec2Metadata\n",
			wantProfile: "a", wantText: `credential_source "Ec2Metadata" is not valid: want Environment, Ec2InstanceMetadata or EcsContainer`},
		{name: "no such profile", profile: "nope", notFound: true,
			config:      "[profile a]\n" + role("a") + "source_profile = alice\n",
			wantProfile: "nope", wantText: "the profile is in none of the files"},
		{name: "source profile without credentials", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = b\n[profile b]\nregion = eu-west-1\n",
			wantProfile: "b", wantChain: []string{"a", "b"}, wantText: "the source profile has no credentials: want"},
		{name: "source_profile without role_arn", profile: "a",
			config:      "[profile a]\nsource_profile = alice\n",
			credentials: aliceCredentials,
			wantProfile: "a", wantText: "source_profile needs role_arn"},
		{name: "duration_seconds out of range", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = alice\nduration_seconds = 100\n",
			credentials: aliceCredentials,
			wantProfile: "a", wantText: "Duration 1m40s is out of range"},
		{name: "bad role ARN", profile: "a",
			config:      "[profile a]\nrole_arn = deploy\nsource_profile = alice\n",
			credentials: aliceCredentials,
			wantProfile: "a", wantText: `RoleARN "deploy" is not an IAM role ARN`},
		{name: "bad session_tags", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = alice\nsession_tags = team\n",
			credentials: aliceCredentials,
			wantProfile: "a", wantText: `session_tags "team" is not key=value,key=value`},
		{name: "transitive tag that is no tag", profile: "a",
			config:      "[profile a]\n" + role("a") + "source_profile = alice\nsession_tags = team=blue\ntransitive_session_tags = owner\n",
			credentials: aliceCredentials,
			wantProfile: "a", wantText: `transitive_session_tags names "owner", which is not a key of session_tags (team)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			_, err := awsprofile.LoadConfig(context.Background(), tc.profile, e.opts(tc.config, tc.credentials))
			require.Error(t, err)
			assert.ErrorIs(t, err, awsprofile.ErrInvalidConfig)
			assert.Equal(t, tc.notFound, errors.Is(err, awsprofile.ErrProfileNotFound))
			var ce *awsprofile.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.wantProfile, ce.Profile)
			assert.Equal(t, tc.wantChain, ce.Chain)
			assert.Contains(t, err.Error(), tc.wantText)
			assert.Regexp(t, `^awsprofile: profile "`+tc.wantProfile+`"`, err.Error())
			assert.NotContains(t, err.Error()[1:], "awsprofile: ", "the prefix once")
			assert.NotContains(t, err.Error(), "stschain: ")
			assert.NotContains(t, err.Error(), bobSec)
			assert.NotContains(t, err.Error(), aliceSec)
			assert.Zero(t, len(e.srv.Calls()), "no STS call")
		})
	}
}

// Errors of the SDK's loader and of stschain stay reachable.
func TestConfigErrorUnwraps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := awsprofile.LoadConfig(context.Background(), "nope", e.opts("", ""))
	var notExist config.SharedConfigProfileNotExistError
	assert.ErrorAs(t, err, &notExist)

	_, err = awsprofile.LoadConfig(context.Background(), "a", e.opts("[profile a]\nrole_arn = deploy\nsource_profile = alice\n", aliceCredentials))
	assert.ErrorIs(t, err, stschain.ErrInvalidOptions)

	_, err = awsprofile.LoadConfig(context.Background(), "alice", e.opts("", aliceCredentials), func(o *awsprofile.Options) { o.SessionDuration = -1 })
	assert.ErrorIs(t, err, stschain.ErrInvalidOptions)
}

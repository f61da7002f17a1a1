package awsprofile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/internal/secrettest"
	"github.com/stschain/stschain/ststest"
)

// No fmt verb, slog handler or json.Marshal of a type of this package
// shows a secret it holds or reaches: a Chain's or a Link's, not even a
// static root's; Options with a KeysFunc handing out keys; an error
// whose cause keeps a secret in a field.
func TestSecretsHidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("deploy")})
	// The selected profile holds keys of its own too, which the SDK's
	// loader reads.
	chain, err := awsprofile.LoadChain(context.Background(), "deploy", e.opts("[profile deploy]\nrole_arn = "+roleARN("deploy")+"\nsource_profile = alice\n", aliceCredentials+"[deploy]\naws_access_key_id = "+aliceKey+"\naws_secret_access_key = "+aliceSec+"\n"))
	require.NoError(t, err)
	_, err = chain.Config.Credentials.Retrieve(context.Background())
	require.NoError(t, err)

	var opts awsprofile.Options
	e.opts("", "", func(o *awsprofile.Options) {
		o.Keys = func(context.Context, string) (aws.CredentialsProvider, error) {
			return credentials.NewStaticCredentialsProvider(aliceKey, aliceSec, ""), nil
		}
	})(&opts)
	cause := keepingError{Body: "aws_secret_access_key = " + aliceSec}
	configErr := &awsprofile.ConfigError{Profile: "deploy", Problem: "role_arn is not an ARN", Err: cause}
	loginErr := &awsprofile.LoginRequiredError{Profile: "sso", Command: "aws sso login --profile sso", Err: cause}

	for name, v := range map[string]any{
		"*Chain":              chain,
		"Chain":               *chain,
		"[]Link":              chain.Links,
		"Link":                chain.Links[0],
		"*Link":               &chain.Links[0],
		"Link AssumeRole":     chain.Links[1],
		"Options":             opts,
		"*Options":            &opts,
		"*ConfigError":        configErr,
		"ConfigError":         *configErr,
		"*LoginRequiredError": loginErr,
		"LoginRequiredError":  *loginErr,
	} {
		t.Run(name, func(t *testing.T) {
			secrettest.AssertHidden(t, v, aliceSec, aliceKey)
		})
	}

	// What they do show.
	assert.Equal(t, "static (profile alice) -> AssumeRole "+roleARN("deploy")+" (profile deploy)", fmt.Sprintf("%d", chain))
	b, err := json.Marshal(chain)
	require.NoError(t, err)
	assert.JSONEq(t, `{"Profile":"deploy","Links":[{"Kind":"static","Profile":"alice"},{"Kind":"AssumeRole","Profile":"deploy","RoleARN":"`+roleARN("deploy")+`"}]}`, string(b))
	assert.Contains(t, secrettest.Outputs(chain)["slog JSON"], roleARN("deploy"))
	b, err = json.Marshal(configErr)
	require.NoError(t, err)
	assert.JSONEq(t, `"awsprofile: profile \"deploy\": role_arn is not an ARN"`, string(b))
	assert.Equal(t, configErr.Error(), fmt.Sprintf("%+v", *configErr))
	assert.Equal(t, loginErr.Error(), fmt.Sprintf("%#v", loginErr))
}

// keepingError keeps what it could not read, secrets and all, in a field.
type keepingError struct{ Body string }

func (keepingError) Error() string { return "unreadable" }

// A credential_process that prints its keys in another format than JSON
// fails with an error that quotes none of its output: only its length and
// shape.
func TestProcessOutputNotEchoed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ststest.Role{ARN: roleARN("deploy")})
	for _, tc := range []struct {
		name, command, want string
	}{
		{"keys as text", "echo " + bobKey + " " + bobSec, `printed 36 bytes that are not a JSON object (looks like "<20> <14>\n")`},
		{"keys as INI", `printf 'aws_access_key_id=` + bobKey + `\naws_secret_access_key=` + bobSec + `\n'`, "not a JSON object"},
		{"too much", "yes " + bobSec + " | head -c 200000", "printed more than 64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := awsprofile.LoadConfig(context.Background(), "deploy", e.opts("[profile proc]\ncredential_process = "+tc.command+"\n[profile deploy]\nrole_arn = "+roleARN("deploy")+"\nsource_profile = proc\n", ""))
			require.NoError(t, err)
			_, err = cfg.Credentials.Retrieve(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), `awsprofile: profile "proc": credential_process`)
			for cur := error(err); cur != nil; cur = unwrapOne(cur) {
				assert.NotContains(t, cur.Error(), bobSec)
				assert.NotContains(t, cur.Error(), bobKey)
				assert.NotContains(t, fmt.Sprintf("%+v", cur), bobSec)
			}
		})
	}
}

// A credential_process printing keys that a shell or an HTTP header would
// interpret is refused with an error that names the field, not its value.
func TestProcessKeysOfAnotherShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name, key, secret, token, want string
	}{
		{"command in the key", "AKIA$(id)EXAMPLE01", bobSec, "", "AccessKeyId is not an AWS access key ID (16 to 128 upper-case letters and digits)"},
		{"short key", "AKIA01", bobSec, "", "AccessKeyId is not an AWS access key ID"},
		{"semicolon in the secret", bobKey, bobSec + ";id", "", "SecretAccessKey is not made of the base64 alphabet (A-Z, a-z, 0-9, +, / and =)"},
		{"backtick in the token", bobKey, bobSec, "tok`id`", "SessionToken is not made of the base64 alphabet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := fmt.Sprintf(`{"Version": 1, "AccessKeyId": %q, "SecretAccessKey": %q, "SessionToken": %q}`, tc.key, tc.secret, tc.token)
			cfg, err := awsprofile.LoadConfig(context.Background(), "proc", e.opts("[profile proc]\ncredential_process = printf '"+out+"'\n", ""))
			require.NoError(t, err)
			_, err = cfg.Credentials.Retrieve(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), `awsprofile: profile "proc": credential_process printed credentials AWS does not issue: `+tc.want)
			for _, v := range []string{"$(id)", ";id", "`id`", "AKIA01"} {
				assert.NotContains(t, err.Error(), v)
			}
		})
	}
}

func unwrapOne(err error) error {
	u, ok := err.(interface{ Unwrap() error })
	if !ok {
		return nil
	}
	return u.Unwrap()
}

// The shape of an output long in one line is cut short.
func TestProcessOutputShapeIsShort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg, err := awsprofile.LoadConfig(context.Background(), "proc", e.opts("[profile proc]\ncredential_process = printf '"+strings.Repeat("a b ", 1000)+"'\n", ""))
	require.NoError(t, err)
	_, err = cfg.Credentials.Retrieve(context.Background())
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 300, err.Error())
	assert.Contains(t, err.Error(), `...")`)
}

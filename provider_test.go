package stschain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mfaARN = "arn:aws:iam::123456789012:mfa/alice"

// deviceOf is an MFA device of the test's own: a code is never sent twice
// for one device within its time step, process-wide, so tests that send
// codes must not share a device.
func deviceOf(t *testing.T) string {
	return "arn:aws:iam::123456789012:mfa/" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
}

func TestNewRejectsBadInput(t *testing.T) {
	long := strings.Repeat("x", 65)
	for _, tc := range []struct {
		name string
		opts Options
		want string // in the error
	}{
		{"role ARN not a role", Options{RoleARN: "arn:aws:iam::123456789012:user/alice"}, "not an IAM role ARN"},
		{"role ARN garbage", Options{RoleARN: "A"}, "not an IAM role ARN"},
		{"session name too short", Options{RoleARN: roleA, RoleSessionName: "a"}, "2 to 64"},
		{"session name too long", Options{RoleARN: roleA, RoleSessionName: long}, "2 to 64"},
		{"session name bad char", Options{RoleARN: roleA, RoleSessionName: "a b"}, "RoleSessionName"},
		{"AssumeRole duration short", Options{RoleARN: roleA, Duration: 14 * time.Minute}, "15m0s to 12h0m0s"},
		{"AssumeRole duration long", Options{RoleARN: roleA, Duration: 13 * time.Hour}, "15m0s to 12h0m0s"},
		{"GetSessionToken duration long", Options{Duration: 37 * time.Hour}, "15m0s to 36h0m0s"},
		{"duration fraction", Options{Duration: 20*time.Minute + time.Millisecond}, "whole number of seconds"},
		{"negative window", Options{ExpiryWindow: -time.Second}, "ExpiryWindow"},
		{"serial bad", Options{SerialNumber: "123", TokenCode: fixedCode}, "neither an MFA device ARN"},
		{"serial ARN of a user", Options{SerialNumber: "arn:aws:iam::123456789012:user/alice", TokenCode: fixedCode}, "SerialNumber"},
		{"role-only field without role", Options{ExternalID: "xyz"}, "ExternalID applies to AssumeRole only"},
		{"policy not JSON", Options{RoleARN: roleA, Policy: "{"}, "Policy is not valid JSON"},
		{"policy ARN bad", Options{RoleARN: roleA, PolicyARNs: []string{"ReadOnly"}}, "not an IAM policy ARN"},
		{"transitive key not a tag", Options{RoleARN: roleA, Tags: map[string]string{"team": "x"}, TransitiveTagKeys: []string{"env"}}, `"env"`},
		{"tag key bad", Options{RoleARN: roleA, Tags: map[string]string{"a\x00": "x"}}, "tag key"},
		{"source identity bad", Options{RoleARN: roleA, SourceIdentity: "x"}, "SourceIdentity"},
		{"external ID short", Options{RoleARN: roleA, ExternalID: "x"}, "ExternalID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.MasterCredentials = staticMaster("alice")
			_, err := New(aws.Config{}, func(o *Options) { *o = opts })
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidOptions)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: "), err.Error())
		})
	}
}

func TestNewAcceptsValidInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"GetSessionToken", Options{}},
		{"GetSessionToken 36h", Options{Duration: 36 * time.Hour}},
		{"role with path", Options{RoleARN: "arn:aws:iam::123456789012:role/team/deploy"}},
		{"gov partition", Options{RoleARN: "arn:aws-us-gov:iam::123456789012:role/x"}},
		{"hardware serial", Options{SerialNumber: "GAHT12345678", TokenCode: fixedCode}},
		{"everything", Options{
			RoleARN: roleA, RoleSessionName: "me@example.com", Duration: 12 * time.Hour, ExternalID: "ext-1",
			Policy: `{"Version":"2012-10-17"}`, PolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
			Tags: map[string]string{"team": "core"}, TransitiveTagKeys: []string{"team"}, SourceIdentity: "alice",
			SerialNumber: mfaARN, TokenCode: fixedCode, ExpiryWindow: time.Second, PrefetchWindow: -1,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.MasterCredentials = staticMaster("alice")
			_, err := New(aws.Config{}, func(o *Options) { *o = opts })
			assert.NoError(t, err)
		})
	}
}

func fixedCode(context.Context, string) (string, error) { return "123456", nil }

func TestNewNeedsMasterCredentials(t *testing.T) {
	_, err := New(aws.Config{Region: "eu-west-1"}, withRole(roleA))
	require.ErrorIs(t, err, ErrNoMasterCredentials)
	assert.Contains(t, err.Error(), roleA)

	_, err = New(aws.Config{}, func(o *Options) { o.Client = newFakeSTS("A", 0) })
	assert.NoError(t, err, "a given Client signs on its own")
}

func TestNewRequiresTokenCodeWithSerialNumber(t *testing.T) {
	_, err := New(aws.Config{Credentials: staticMaster("alice")}, func(o *Options) { o.SerialNumber = mfaARN })
	require.ErrorIs(t, err, ErrTokenCodeRequired)
	assert.Contains(t, err.Error(), mfaARN)
}

// stsServer is a minimal STS endpoint that answers AssumeRole and records
// the Authorization header of each request.
func stsServer(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if !strings.Contains(string(body), "Action=AssumeRole") {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIASERVER</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/A/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), auths...)
	}
}

func TestNewBuildsTheClientOnce(t *testing.T) {
	t.Run("cfg.BaseEndpoint, default region, master from cfg", func(t *testing.T) {
		srv, auths := stsServer(t)
		cfg := aws.Config{Credentials: staticMaster("alice"), BaseEndpoint: aws.String(srv.URL)}
		p, err := New(cfg, withRole(roleA))
		require.NoError(t, err)
		// Later changes to the caller's config change nothing.
		cfg.Credentials = staticMaster("mallory")
		cfg.BaseEndpoint = aws.String("http://127.0.0.1:1")

		c, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "ASIASERVER", c.AccessKeyID)
		require.Len(t, auths(), 1)
		assert.Contains(t, auths()[0], "Credential=AKIAalice/")
		assert.Contains(t, auths()[0], "/"+DefaultRegion+"/sts/")
		_, ok := p.Client().(*sts.Client)
		assert.True(t, ok)
	})
	t.Run("MasterCredentials and STSOptions", func(t *testing.T) {
		srv, auths := stsServer(t)
		cfg := aws.Config{Region: "eu-west-1", Credentials: staticMaster("alice"), BaseEndpoint: aws.String("http://127.0.0.1:1")}
		p, err := New(cfg, withRole(roleA), func(o *Options) {
			o.MasterCredentials = staticMaster("bob")
			o.STSOptions = append(o.STSOptions, func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		})
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background())
		require.NoError(t, err)
		require.Len(t, auths(), 1)
		assert.Contains(t, auths()[0], "Credential=AKIAbob/")
		assert.Contains(t, auths()[0], "/eu-west-1/sts/")
	})
	t.Run("given Client is kept", func(t *testing.T) {
		f := newFakeSTS("A", 0)
		p := newFake(t, f, staticMaster("alice"))
		assert.Same(t, f, p.Client())
	})
}

func TestAssumeRoleSendsEveryOptionSet(t *testing.T) {
	var got *sts.AssumeRoleInput
	f := newFakeSTS("A", time.Hour)
	f.inspect = func(in any) { got = in.(*sts.AssumeRoleInput) }
	codes := 0
	p := newFake(t, f, staticMaster("alice"), func(o *Options) {
		*o = Options{
			RoleARN: roleA, RoleSessionName: "deploy", Duration: 2 * time.Hour, ExternalID: "ext-1",
			Policy: `{"Version":"2012-10-17"}`, PolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
			Tags: map[string]string{"team": "core", "env": "prod"}, TransitiveTagKeys: []string{"team"},
			SourceIdentity: "alice", SerialNumber: deviceOf(t),
			TokenCode: func(_ context.Context, serial string) (string, error) {
				codes++
				return fmt.Sprintf("%06d", codes), nil
			},
			Client: f, MasterCredentials: staticMaster("alice"),
		}
	})
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	want := &sts.AssumeRoleInput{
		RoleArn: aws.String(roleA), RoleSessionName: aws.String("deploy"), DurationSeconds: aws.Int32(7200),
		ExternalId: aws.String("ext-1"), Policy: aws.String(`{"Version":"2012-10-17"}`),
		PolicyArns:        []types.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
		Tags:              []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("core")}},
		TransitiveTagKeys: []string{"team"}, SourceIdentity: aws.String("alice"),
		SerialNumber: aws.String(deviceOf(t)), TokenCode: aws.String("000001"),
	}
	assert.Equal(t, want, got)
}

func TestMinimalInputs(t *testing.T) {
	t.Run("AssumeRole generates a valid session name and leaves the duration to STS", func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		var got *sts.AssumeRoleInput
		f.inspect = func(in any) { got = in.(*sts.AssumeRoleInput) }
		_, err := newFake(t, f, staticMaster("alice"), withRole(roleA)).Retrieve(context.Background())
		require.NoError(t, err)
		assert.Regexp(t, sessionNameRe, aws.ToString(got.RoleSessionName))
		assert.Nil(t, got.DurationSeconds)
		assert.Nil(t, got.SerialNumber)
		assert.Nil(t, got.TokenCode)
		assert.Nil(t, got.ExternalId)
	})
	t.Run("GetSessionToken sends Duration, SerialNumber and TokenCode only", func(t *testing.T) {
		f := newFakeSTS("S", time.Hour)
		var got *sts.GetSessionTokenInput
		f.inspect = func(in any) { got = in.(*sts.GetSessionTokenInput) }
		_, err := newFake(t, f, staticMaster("alice"), func(o *Options) {
			o.Duration = 36 * time.Hour
			o.SerialNumber = deviceOf(t)
			o.TokenCode = fixedCode
		}).Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, &sts.GetSessionTokenInput{
			DurationSeconds: aws.Int32(36 * 3600), SerialNumber: aws.String(deviceOf(t)), TokenCode: aws.String("123456"),
		}, got)
	})
}

func TestTokenCodeIsCalledBeforeEveryCall(t *testing.T) {
	var calls atomic.Int32
	var serials []string
	f := newFakeSTS("A", time.Hour)
	var sent []string
	f.inspect = func(in any) { sent = append(sent, aws.ToString(in.(*sts.AssumeRoleInput).TokenCode)) }
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.SerialNumber = deviceOf(t)
		o.TokenCode = func(_ context.Context, serial string) (string, error) {
			serials = append(serials, serial)
			return fmt.Sprintf("%06d", calls.Add(1)), nil
		}
	})
	for range 3 {
		_, err := p.Refresh(context.Background())
		require.NoError(t, err)
	}
	assert.Equal(t, []string{deviceOf(t), deviceOf(t), deviceOf(t)}, serials)
	assert.Equal(t, []string{"000001", "000002", "000003"}, sent)
}

func TestTokenCodeFailure(t *testing.T) {
	errNoDevice := errors.New("no device attached")
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.SerialNumber = mfaARN
		o.TokenCode = func(context.Context, string) (string, error) { return "", errNoDevice }
	})
	_, err := p.Retrieve(context.Background())
	require.ErrorIs(t, err, errNoDevice)
	assert.Contains(t, err.Error(), "MFA token")
	assert.Contains(t, err.Error(), roleA)
	assert.Zero(t, f.count())
}

func TestTokenCodeWithoutSerialNumberIsNeverCalled(t *testing.T) {
	f := newFakeSTS("A", time.Hour)
	p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) {
		o.TokenCode = func(context.Context, string) (string, error) {
			t.Error("TokenCode called without SerialNumber")
			return "", nil
		}
	})
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	_, err = p.Refresh(context.Background())
	require.NoError(t, err)
}

func TestPlugsInWhereUsersPutProviders(t *testing.T) {
	srv, auths := stsServer(t)
	p, err := New(aws.Config{Credentials: staticMaster("alice"), BaseEndpoint: aws.String(srv.URL)}, withRole(roleA))
	require.NoError(t, err)

	t.Run("aws.Config.Credentials", func(t *testing.T) {
		c, err := aws.Config{Credentials: p}.Credentials.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "ASIASERVER", c.AccessKeyID)
	})
	t.Run("config.WithCredentialsProvider", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("AWS_CONFIG_FILE", dir+"/none")
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/none")
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"), config.WithCredentialsProvider(p))
		require.NoError(t, err)
		c, err := cfg.Credentials.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "ASIASERVER", c.AccessKeyID)
		assert.True(t, aws.IsCredentialsProvider(cfg.Credentials, (*ChainableProvider)(nil)))
	})
	assert.Len(t, auths(), 1, "both share the provider's one STS call")
}

package ststest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/signin"
	signintypes "github.com/aws/aws-sdk-go-v2/service/signin/types"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// portalConfig points the SDK's clients at a Portal in front of s.
func portalConfig(t *testing.T, s *Server) (*Portal, aws.Config) {
	t.Helper()
	p := NewPortal(s)
	hs := httptest.NewServer(p)
	t.Cleanup(hs.Close)
	return p, aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL), HTTPClient: hs.Client(), RetryMaxAttempts: 1}
}

// GetRoleCredentials answers a session of the role that the Server
// accepts, and is recorded among the Server's calls.
func TestPortalRoleCredentials(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, testConfig())
	p, cfg := portalConfig(t, s)
	p.AddAccessToken("tok", time.Now().Add(time.Hour))
	client := sso.NewFromConfig(cfg)
	out, err := client.GetRoleCredentials(context.Background(), &sso.GetRoleCredentialsInput{
		AccessToken: aws.String("tok"), AccountId: aws.String(acct), RoleName: aws.String("A"),
	})
	require.NoError(t, err)
	rc := out.RoleCredentials
	assert.WithinDuration(t, time.Now().Add(time.Hour), time.UnixMilli(rc.Expiration), 5*time.Second)

	// The session is one of role A, which role B trusts.
	stsCfg := cfg.Copy()
	stsCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(rc.AccessKeyId), aws.ToString(rc.SecretAccessKey), aws.ToString(rc.SessionToken))
	_, err = sts.NewFromConfig(stsCfg).AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(roleB), RoleSessionName: aws.String("xy")})
	require.NoError(t, err)
	calls := s.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, Call{Action: "GetRoleCredentials", RoleARN: roleA, Status: http.StatusOK, IssuedAccessKeyID: aws.ToString(rc.AccessKeyId)}, calls[0])
	assert.Equal(t, aws.ToString(rc.AccessKeyId), calls[1].CallerAccessKeyID)

	for _, tc := range []struct{ token, role, code string }{
		{"nope", "A", "UnauthorizedException"},
		{"tok", "Nope", "ForbiddenException"}, // as AWS answers; the SDK's model has no type for it
	} {
		_, err := client.GetRoleCredentials(context.Background(), &sso.GetRoleCredentialsInput{
			AccessToken: aws.String(tc.token), AccountId: aws.String(acct), RoleName: aws.String(tc.role),
		})
		var apiErr smithy.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, tc.code, apiErr.ErrorCode())
		assert.Len(t, s.Calls(Call{Action: "GetRoleCredentials", ErrorCode: tc.code}), 1)
	}

	// An access token expires on the Server's clock.
	s.Advance(2 * time.Hour)
	_, err = client.GetRoleCredentials(context.Background(), &sso.GetRoleCredentialsInput{
		AccessToken: aws.String("tok"), AccountId: aws.String(acct), RoleName: aws.String("A"),
	})
	assert.ErrorAs(t, err, new(*ssotypes.UnauthorizedException))
}

// CreateOAuth2Token takes a refresh token once, for a session of its role
// and a new refresh token; a spent or unknown one is TOKEN_EXPIRED.
func TestPortalOAuth2Token(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, testConfig())
	p, cfg := portalConfig(t, s)
	p.AddRefreshToken("r1", roleA)
	client := signin.NewFromConfig(cfg)
	dpop := signin.WithAPIOptions(func(st *middleware.Stack) error {
		return st.Build.Add(middleware.BuildMiddlewareFunc("dpop", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			in.Request.(*smithyhttp.Request).Header.Set("DPoP", "proof")
			return next.HandleBuild(ctx, in)
		}), middleware.After)
	})
	create := func(refresh string) (*signin.CreateOAuth2TokenOutput, error) {
		return client.CreateOAuth2Token(context.Background(), &signin.CreateOAuth2TokenInput{TokenInput: &signintypes.CreateOAuth2TokenRequestBody{
			ClientId: aws.String("arn:aws:signin:::devtools/same-device"), GrantType: aws.String("refresh_token"), RefreshToken: aws.String(refresh),
		}}, dpop)
	}
	out, err := create("r1")
	require.NoError(t, err)
	assert.Equal(t, int32(900), aws.ToInt32(out.TokenOutput.ExpiresIn))
	next := aws.ToString(out.TokenOutput.RefreshToken)
	assert.NotEqual(t, "r1", next)
	assert.Equal(t, []Call{{Action: "CreateOAuth2Token", RoleARN: roleA, Status: http.StatusOK, IssuedAccessKeyID: aws.ToString(out.TokenOutput.AccessToken.AccessKeyId)}}, s.Calls())

	_, err = create("r1")
	var denied *signintypes.AccessDeniedException
	require.ErrorAs(t, err, &denied)
	assert.Equal(t, signintypes.OAuth2ErrorCodeTokenExpired, denied.Error_)
	_, err = create(next)
	assert.NoError(t, err)

	// Without a DPoP proof: refused.
	_, err = client.CreateOAuth2Token(context.Background(), &signin.CreateOAuth2TokenInput{TokenInput: &signintypes.CreateOAuth2TokenRequestBody{
		ClientId: aws.String("c"), GrantType: aws.String("refresh_token"), RefreshToken: aws.String("x"),
	}})
	assert.ErrorAs(t, err, new(*signintypes.ValidationException))
}

// Every other request reaches the Server.
func TestPortalForwardsSTS(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, testConfig())
	_, cfg := portalConfig(t, s)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aliceKey, "alice-secret", "")
	_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Len(t, s.Calls(Call{Action: "GetCallerIdentity"}), 1)
}

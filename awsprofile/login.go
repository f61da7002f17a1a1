package awsprofile

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/logincreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/service/signin"
	signintypes "github.com/aws/aws-sdk-go-v2/service/signin/types"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/smithy-go"

	"github.com/stschain/stschain/internal/httpguard"
)

// The roots that need a session the user opens with the AWS CLI (aws sso
// login, aws login): the SDK's providers, whose clients are built from the
// config the SDK resolved, and whose failures for want of that session are
// a *LoginRequiredError saying what to run.

// trace records, for one Retrieve, what the providers' clients saw.
type trace struct {
	reached      bool  // the call for credentials was made
	callErr      error // its error
	refreshFaint bool  // refreshing the SSO token failed without an answer
}

type traceKey struct{}

func withTrace(ctx context.Context) (context.Context, *trace) {
	t := &trace{}
	return context.WithValue(ctx, traceKey{}, t), t
}

func traceOf(ctx context.Context) *trace {
	if t, ok := ctx.Value(traceKey{}).(*trace); ok {
		return t
	}
	return &trace{}
}

// ssoClient is the SSO portal's client, traced.
type ssoClient struct{ c *sso.Client }

func (c ssoClient) GetRoleCredentials(ctx context.Context, in *sso.GetRoleCredentialsInput, optFns ...func(*sso.Options)) (*sso.GetRoleCredentialsOutput, error) {
	out, err := c.c.GetRoleCredentials(ctx, in, optFns...)
	t := traceOf(ctx)
	t.reached, t.callErr = true, err
	return out, err
}

// oidcClient is the SSO OIDC client that refreshes tokens, traced.
type oidcClient struct{ c *ssooidc.Client }

func (c oidcClient) CreateToken(ctx context.Context, in *ssooidc.CreateTokenInput, optFns ...func(*ssooidc.Options)) (*ssooidc.CreateTokenOutput, error) {
	out, err := c.c.CreateToken(ctx, in, optFns...)
	var apiErr smithy.APIError
	if err != nil && !errors.As(err, &apiErr) {
		traceOf(ctx).refreshFaint = true
	}
	return out, err
}

// ssoRoot is an SSO profile's root: the SDK's ssocreds provider.
type ssoRoot struct {
	p       *ssocreds.Provider
	profile string
}

// ssoProvider builds the SSO root of r: GetRoleCredentials and the token's
// refresh go to the SSO endpoints base resolves, in the SSO region.
func (l *loader) ssoProvider(base aws.Config, r rootPlan) (*ssoRoot, error) {
	cfg := base.Copy()
	cfg.Credentials = nil // the portal's calls carry the SSO token instead
	cfg.Region = r.sso.region
	httpguard.Apply(&cfg)
	var opts []func(*ssocreds.Options)
	if l.sdkOpts.SSOProviderOptions != nil {
		opts = append(opts, l.sdkOpts.SSOProviderOptions)
	}
	if r.sso.session != "" {
		path, err := ssocreds.StandardCachedTokenFilepath(r.sso.session)
		if err != nil {
			return nil, &ConfigError{Profile: r.profile, Problem: "the SSO token cache: " + causeText(err), Err: err}
		}
		var tokenOpts []func(*ssocreds.SSOTokenProviderOptions)
		if l.sdkOpts.SSOTokenProviderOptions != nil {
			tokenOpts = append(tokenOpts, l.sdkOpts.SSOTokenProviderOptions)
		}
		tp := ssocreds.NewSSOTokenProvider(oidcClient{ssooidc.NewFromConfig(cfg)}, path, tokenOpts...)
		opts = append(opts, func(o *ssocreds.Options) { o.SSOTokenProvider, o.CachedTokenFilepath = tp, path })
	}
	p := ssocreds.New(ssoClient{sso.NewFromConfig(cfg)}, r.sso.accountID, r.sso.roleName, r.sso.startURL, opts...)
	return &ssoRoot{p: p, profile: r.profile}, nil
}

func (s *ssoRoot) Retrieve(ctx context.Context) (aws.Credentials, error) {
	tctx, t := withTrace(ctx)
	c, err := s.p.Retrieve(tctx)
	if err == nil {
		return c, nil
	}
	var unauthorized *ssotypes.UnauthorizedException
	switch {
	case ctx.Err() != nil:
	case !t.reached && !t.refreshFaint, errors.As(t.callErr, &unauthorized):
		// No usable token: missing, expired and not refreshable, refused
		// on refresh, or refused by the portal.
		return aws.Credentials{}, &LoginRequiredError{Profile: s.profile, Command: "aws sso login --profile " + shellQuote(s.profile), Err: err}
	}
	return aws.Credentials{}, fmt.Errorf("awsprofile: profile %q: SSO: %w", s.profile, err)
}

// signinClient is the sign-in service's client, traced.
type signinClient struct{ c *signin.Client }

func (c signinClient) CreateOAuth2Token(ctx context.Context, in *signin.CreateOAuth2TokenInput, optFns ...func(*signin.Options)) (*signin.CreateOAuth2TokenOutput, error) {
	out, err := c.c.CreateOAuth2Token(ctx, in, optFns...)
	t := traceOf(ctx)
	t.reached, t.callErr = true, err
	return out, err
}

// loginRoot is a login_session profile's root (aws login): the SDK's
// logincreds provider.
type loginRoot struct {
	p       *logincreds.Provider
	profile string
}

func (l *loader) loginProvider(base aws.Config, r rootPlan) (aws.CredentialsProvider, error) {
	path, err := logincreds.StandardCachedTokenFilepath(r.login, l.env.loginCacheDir)
	if err != nil {
		return nil, &ConfigError{Profile: r.profile, Problem: "the login token cache: " + causeText(err), Err: err}
	}
	cfg := base.Copy()
	cfg.Credentials = nil // CreateOAuth2Token is signed with the session's DPoP key instead
	httpguard.Apply(&cfg)
	p := logincreds.New(signinClient{signin.NewFromConfig(cfg)}, path, func(o *logincreds.Options) {
		o.RestrictPermissions = base.RestrictFilePermissions != aws.RestrictFilePermissionsUnrestricted
	})
	return l.cached(&loginRoot{p: p, profile: r.profile}), nil
}

func (s *loginRoot) Retrieve(ctx context.Context) (aws.Credentials, error) {
	tctx, t := withTrace(ctx)
	c, err := s.p.Retrieve(tctx)
	if err == nil {
		return c, nil
	}
	var denied *signintypes.AccessDeniedException
	expired := errors.As(t.callErr, &denied) &&
		(denied.Error_ == signintypes.OAuth2ErrorCodeTokenExpired || denied.Error_ == signintypes.OAuth2ErrorCodeUserCredentialsChanged)
	if ctx.Err() == nil && (!t.reached || expired) {
		// The session's file is missing or unusable, or the service
		// says the session is over.
		return aws.Credentials{}, &LoginRequiredError{Profile: s.profile, Command: "aws login --profile " + shellQuote(s.profile), Err: err}
	}
	return aws.Credentials{}, fmt.Errorf("awsprofile: profile %q: login_session: %w", s.profile, err)
}

package awsprofile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stschain/stschain"
)

// Options configures [LoadConfig] and [LoadChain]. The zero value of every
// field is valid and means the default its comment gives.
type Options struct {
	// ConfigFiles are the shared config files, a later one overriding an
	// earlier one. Optional: nil means the SDK's default (AWS_CONFIG_FILE,
	// else ~/.aws/config); an empty non-nil slice reads none.
	ConfigFiles []string

	// CredentialsFiles are the shared credentials files. Optional: nil
	// means the SDK's default (AWS_SHARED_CREDENTIALS_FILE, else
	// ~/.aws/credentials); an empty non-nil slice reads none.
	CredentialsFiles []string

	// TokenCode returns the MFA codes of the links with mfa_serial.
	// Optional: nil means, for each such link, the mfa_process of its
	// profile (aws-vault's key, run with [stschain.ProcessTokenCode]) when
	// it has one, else Prompt. When set it serves every
	// link, mfa_process or not.
	TokenCode stschain.TokenCodeFunc

	// Prompt asks for the MFA codes of the links with mfa_serial whose
	// profile has no mfa_process, when TokenCode is nil. Optional: nil
	// means [stschain.PromptTokenCode].
	Prompt stschain.TokenCodeFunc

	// SessionDuration, when positive, asks for one MFA session a day
	// instead of one prompt per role session: when the root of the chain
	// hands out long-term keys (static keys without a session token, keys
	// of the environment without one, or a credential_process that prints
	// such keys, or keys from Keys: see [Link.LongTermKeys]) and a role of the chain has
	// mfa_serial, a GetSessionToken link of this length, sending
	// the MFA code of the lowest such role, sits on the root, and the roles
	// above are assumed from it without MFA (the session's MFA context
	// satisfies roles that require MFA). With Cache set, the session
	// outlives the process. Otherwise it has no effect. Optional: zero
	// means no such link. Valid: 15 minutes to 36 hours, whole seconds.
	SessionDuration time.Duration

	// Cache keeps the sessions of every link of the chain, and the root's
	// credentials when they expire (SSO role credentials, a
	// credential_process's with an Expiration), so that they outlive the
	// process and are shared with other processes, each fetched by one of
	// them under the cache's lock when it is a [stschain.CacheLocker]. A
	// [stschain.FileCache] on [stschain.DefaultCLICacheDir] shares them with
	// the AWS CLI (SSO role credentials under the CLI's own key). Optional:
	// nil keeps them in memory only.
	Cache stschain.Cache

	// LinkOptions are applied to the Options of every ChainableProvider of
	// the chain (its role links and the GetSessionToken link), after the
	// profile's own settings: a Logger, an OnRefresh hook, refresh windows.
	// MasterCredentials is always the link below and cannot be changed
	// here. Optional.
	LinkOptions []func(*stschain.Options)

	// Keys finds the long-term keys of profiles that hold no credentials
	// in the files, kept elsewhere: in an OS keyring, say (package
	// [github.com/stschain/stschain/keyring]). See [KeysFunc] for when it
	// is asked. Optional: nil means the files' credentials only.
	Keys KeysFunc

	// LoadOptions are passed to the SDK's config loading: region, HTTP
	// client, retryer, endpoint, and the options of the SDK's providers of
	// the root (ProcessCredentialOptions, WebIdentityRoleCredentialOptions,
	// SSOProviderOptions, SSOTokenProviderOptions, EC2RoleCredentialOptions,
	// EndpointCredentialOptions, CredentialsCacheOptions).
	// SharedConfigProfile names the profile when LoadChain's argument is
	// empty. Credentials and AssumeRoleCredentialOptions play no part: the
	// profile makes the credentials, and its role links are stschain's,
	// configured through LinkOptions. Optional.
	LoadOptions []func(*config.LoadOptions) error
}

// LoadConfig returns the aws.Config of the named profile, with the chain the
// profile describes as its Credentials. profile "" means AWS_PROFILE, else
// "default".
//
// It is the aws.Config that [config.LoadDefaultConfig] returns for the
// profile (region, endpoints including AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_STS, endpoint_url and services sections, retryer, HTTP
// client), except Credentials: for a profile with role_arn it is the top
// *[stschain.ChainableProvider] itself, not wrapped in an
// aws.CredentialsCache, so that its background refresh works and
// Refresh and Invalidate are reachable by a type assertion. Every link of
// the chain is a ChainableProvider of its own, which refreshes on its own
// schedule; every call of the chain goes to the endpoint the config
// resolves. For a profile without role_arn, and where no profile applies,
// Credentials is the root's provider: the SDK's provider for that kind of
// root, in an aws.CredentialsCache. See the package documentation for the
// rules, and [LoadChain] for the links.
//
// Wrong settings are a *[ConfigError], returned before any call.
func LoadConfig(ctx context.Context, profile string, optFns ...func(*Options)) (aws.Config, error) {
	c, err := LoadChain(ctx, profile, optFns...)
	if err != nil {
		return aws.Config{}, err
	}
	return c.Config, nil
}

// LoadChain is [LoadConfig] returning the links of the chain as well, for
// diagnostics and for putting more links on top. It makes no call to STS
// or any other service; it runs a credential_process root only when
// SessionDuration needs to know whether it prints long-term keys.
func LoadChain(ctx context.Context, profile string, optFns ...func(*Options)) (*Chain, error) {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	if o.SessionDuration < 0 {
		return nil, fmt.Errorf("awsprofile: SessionDuration %v is negative: want 0 (no session link) or 15m to 36h: %w", o.SessionDuration, stschain.ErrInvalidOptions)
	}
	l := &loader{o: o, profile: profile}
	return l.load(ctx)
}

// TopRole returns the options of the top link of the chain LoadChain
// builds for profile when that link assumes a role_arn of the profiles:
// RoleARN, RoleSessionName, ExternalID, SerialNumber, Duration, and
// aws-vault's source identity and session tags, as LoadChain sets them,
// without a TokenCode, a Cache or master credentials. It reads the files
// and the environment only (no SDK configuration, no credential, no
// call), so that a caller can look for the top link's session in its
// cache before it loads the chain: a short-lived process that finds one
// fresh there needs nothing else. It never asks Options.Keys: when Keys is
// set, a profile whose keys only Keys could have counts as having them.
// ok is false when the top link is no such role (a profile without
// role_arn, a web identity role) or when Options.SessionDuration would
// move the role's MFA device to a session link under it. Its errors are
// LoadChain's for the same files and environment.
func TopRole(ctx context.Context, profile string, optFns ...func(*Options)) (opts stschain.Options, ok bool, err error) {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	var keys KeysFunc
	if o.Keys != nil {
		keys = func(context.Context, string) (aws.CredentialsProvider, error) { return unasked{}, nil }
	}
	l := &loader{o: o, profile: profile}
	p, err := l.plan(ctx, keys)
	if err != nil || len(p.roles) == 0 || o.SessionDuration > 0 {
		return stschain.Options{}, false, err
	}
	return p.roles[len(p.roles)-1].options(), true, nil
}

// unasked stands for the keys Options.Keys may have, in TopRole's plan,
// which builds no provider.
type unasked struct{}

func (unasked) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("awsprofile: TopRole's stand-in for keys was asked for them")
}

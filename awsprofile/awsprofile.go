package awsprofile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

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
	// it has one, else [stschain.PromptTokenCode]. When set it serves every
	// link, mfa_process or not.
	TokenCode stschain.TokenCodeFunc

	// SessionDuration, when positive, asks for one MFA session a day
	// instead of one prompt per role session: when the root of the chain
	// is long-term keys (static keys without aws_session_token, or
	// credential_source = Environment with such keys) and a role of the
	// chain has mfa_serial, a GetSessionToken link of this length, sending
	// the MFA code of the lowest such role, sits on the root, and the roles
	// above are assumed from it without MFA (the session's MFA context
	// satisfies roles that require MFA). With Cache set, the session
	// outlives the process. Otherwise it has no effect. Optional: zero
	// means no such link. Valid: 15 minutes to 36 hours, whole seconds.
	SessionDuration time.Duration

	// Cache keeps the sessions of every link of the chain, so that they
	// outlive the process and are shared with other processes; a
	// [stschain.FileCache] on [stschain.DefaultCLICacheDir] shares them
	// with the AWS CLI. Optional: nil keeps them in memory only.
	Cache stschain.Cache

	// LinkOptions are applied to the Options of every ChainableProvider of
	// the chain (its role links and the GetSessionToken link), after the
	// profile's own settings: a Logger, an OnRefresh hook, refresh windows.
	// MasterCredentials is always the link below and cannot be changed
	// here. Optional.
	LinkOptions []func(*stschain.Options)

	// LoadOptions are passed to the SDK's config loading: region, HTTP
	// client, retryer, endpoint, and the options of the SDK's providers of
	// the root (ProcessCredentialOptions, WebIdentityRoleCredentialOptions,
	// SSO and EC2 options ...). Credentials and AssumeRoleCredentialOptions
	// play no part in a chain with role_arn: the chain makes the
	// credentials, and its role links are stschain's, configured through
	// LinkOptions. Optional.
	LoadOptions []func(*config.LoadOptions) error
}

// LinkKind says what makes a [Link].
type LinkKind string

// The kinds of link. The three credential_source kinds are spelled as the
// key's values.
const (
	// KindStatic is a profile's aws_access_key_id and aws_secret_access_key
	// (and aws_session_token).
	KindStatic LinkKind = "static"
	// KindEnvironment is credential_source = Environment: the keys in
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
	KindEnvironment LinkKind = "Environment"
	// KindEc2InstanceMetadata is credential_source = Ec2InstanceMetadata.
	KindEc2InstanceMetadata LinkKind = "Ec2InstanceMetadata"
	// KindEcsContainer is credential_source = EcsContainer.
	KindEcsContainer LinkKind = "EcsContainer"
	// KindWebIdentity is web_identity_token_file + role_arn:
	// AssumeRoleWithWebIdentity.
	KindWebIdentity LinkKind = "AssumeRoleWithWebIdentity"
	// KindSSO is sso_session, or the legacy sso_* keys.
	KindSSO LinkKind = "SSO"
	// KindProcess is credential_process.
	KindProcess LinkKind = "credential_process"
	// KindSDK is the SDK's own resolution, where no profile makes the
	// credentials: keys in the environment, or a profile without any
	// (the container or instance credentials of the SDK's default chain).
	KindSDK LinkKind = "SDK"
	// KindSessionToken is the GetSessionToken link of
	// Options.SessionDuration.
	KindSessionToken LinkKind = "GetSessionToken"
	// KindAssumeRole is a role_arn assumed from the link below.
	KindAssumeRole LinkKind = "AssumeRole"
)

// Link is one link of a [Chain].
type Link struct {
	// Kind says what makes the link.
	Kind LinkKind
	// Profile is the profile whose settings make the link; empty for a
	// KindSDK or KindWebIdentity link of the environment.
	Profile string
	// RoleARN is the role of a KindAssumeRole or KindWebIdentity link.
	RoleARN string
	// SerialNumber is the MFA device whose codes the link sends.
	SerialNumber string
	// Provider makes the link's credentials: a *stschain.ChainableProvider
	// for KindAssumeRole and KindSessionToken, the SDK's provider
	// otherwise.
	Provider aws.CredentialsProvider
}

// String describes the link without any secret.
func (l Link) String() string {
	var b strings.Builder
	b.WriteString(string(l.Kind))
	if l.RoleARN != "" {
		b.WriteString(" " + l.RoleARN)
	}
	var notes []string
	if l.Profile != "" {
		notes = append(notes, "profile "+l.Profile)
	}
	if l.SerialNumber != "" {
		notes = append(notes, "mfa "+l.SerialNumber)
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	return b.String()
}

// GoString is String, so that %#v shows no secret either.
func (l Link) GoString() string { return l.String() }

// Chain is what a profile's settings make, as [LoadChain] returns it.
type Chain struct {
	// Profile is the selected profile, resolved: the one asked for, else
	// AWS_PROFILE, else "default"; empty when there is none (no
	// AWS_PROFILE and no default profile in the files).
	Profile string
	// Config is the aws.Config of the profile, with the top link's
	// provider as Credentials.
	Config aws.Config
	// Links are the links of the chain, bottom first: Links[0] is the
	// root, the last one makes Config.Credentials.
	Links []Link
}

// Top returns the top link's ChainableProvider, or nil when the top link
// is not one (a profile without role_arn, or a web identity profile whose
// role is assumed with AssumeRoleWithWebIdentity). To put more role links
// on top of the chain, pass Config to [stschain.NewChain]: its first
// link's master is Config.Credentials.
func (c *Chain) Top() *stschain.ChainableProvider {
	p, _ := c.Config.Credentials.(*stschain.ChainableProvider)
	return p
}

// String describes the chain, bottom first, without any secret.
func (c Chain) String() string {
	parts := make([]string, len(c.Links))
	for i, l := range c.Links {
		parts[i] = l.String()
	}
	return strings.Join(parts, " -> ")
}

// GoString is String, so that %#v shows no secret either.
func (c Chain) GoString() string { return c.String() }

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
// schedule; every STS call of the chain goes to the endpoint the config
// resolves. For a profile without role_arn, and where no profile applies,
// Credentials is the SDK's own provider. See the package documentation for
// the rules, and [LoadChain] for the links.
//
// Wrong settings are a *[ConfigError], returned before any STS call.
func LoadConfig(ctx context.Context, profile string, optFns ...func(*Options)) (aws.Config, error) {
	c, err := LoadChain(ctx, profile, optFns...)
	if err != nil {
		return aws.Config{}, err
	}
	return c.Config, nil
}

// LoadChain is [LoadConfig] returning the links of the chain as well, for
// diagnostics and for putting more links on top. It makes no STS call.
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

// loader builds one chain.
type loader struct {
	o       Options
	profile string             // as asked for
	sdkOpts config.LoadOptions // o.LoadOptions applied, to read the providers' options
	env     config.EnvConfig   // as the SDK's loader read it
	loaded  bool               // env is set
	raw     rawProfiles
}

// unbuilt stands in for the credentials while the SDK loads the config,
// so that it resolves none of its own.
type unbuilt struct{}

func (unbuilt) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("awsprofile: the chain was not built")
}

// loadOptions are o.LoadOptions with the profile and files.
func (l *loader) loadOptions(profile string, extra ...func(*config.LoadOptions) error) []func(*config.LoadOptions) error {
	opts := append([]func(*config.LoadOptions) error(nil), l.o.LoadOptions...)
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if l.o.ConfigFiles != nil {
		opts = append(opts, config.WithSharedConfigFiles(l.o.ConfigFiles))
	}
	if l.o.CredentialsFiles != nil {
		opts = append(opts, config.WithSharedCredentialsFiles(l.o.CredentialsFiles))
	}
	return append(opts, extra...)
}

func (l *loader) load(ctx context.Context) (*Chain, error) {
	for _, fn := range l.o.LoadOptions {
		if fn != nil {
			if err := fn(&l.sdkOpts); err != nil {
				return nil, fmt.Errorf("awsprofile: LoadOptions: %w", err)
			}
		}
	}
	// Load everything but the credentials: the SDK resolves the profile,
	// the files, the region and the endpoints, and reads the profile's
	// chain of source profiles into a SharedConfig tree.
	base, err := config.LoadDefaultConfig(ctx, l.loadOptions(l.profile, config.WithCredentialsProvider(unbuilt{}))...)
	if err != nil {
		return nil, l.refused(err)
	}
	var shared config.SharedConfig
	for _, src := range base.ConfigSources {
		switch s := src.(type) {
		case config.EnvConfig:
			l.env, l.loaded = s, true
		case config.SharedConfig:
			shared = s
		}
	}
	base.Credentials = nil

	if l.profile == "" {
		// The SDK's default chain prefers keys and a web identity in the
		// environment to AWS_PROFILE, and falls back to the container and
		// the instance when there is no profile at all.
		switch {
		case l.env.Credentials.HasKeys() || shared.Profile == "":
			return l.plain(ctx, shared.Profile, KindSDK)
		case l.env.WebIdentityTokenFilePath != "":
			p := webIdentity(base, &l.sdkOpts, l.env.RoleARN, l.env.WebIdentityTokenFilePath, l.env.RoleSessionName)
			base.Credentials = p
			return &Chain{Config: base, Links: []Link{{Kind: KindWebIdentity, RoleARN: l.env.RoleARN, Provider: p}}}, nil
		}
	}

	raw, err := readRaw(configFiles(&l.o, &l.sdkOpts, l.env), credentialsFiles(&l.o, &l.sdkOpts, l.env))
	if err != nil {
		return nil, &ConfigError{Profile: shared.Profile, Problem: causeText(err), Err: err}
	}
	l.raw = raw
	p, err := resolvePlan(&shared)
	if err != nil {
		return nil, err
	}
	if len(p.roles) == 0 {
		if p.root.kind != KindWebIdentity {
			return l.plain(ctx, shared.Profile, p.root.kind)
		}
		sc := p.root.sc
		wp := webIdentity(base, &l.sdkOpts, sc.RoleARN, sc.WebIdentityTokenFile, sc.RoleSessionName)
		base.Credentials = wp
		return &Chain{Profile: shared.Profile, Config: base, Links: []Link{{Kind: KindWebIdentity, Profile: sc.Profile, RoleARN: sc.RoleARN, Provider: wp}}}, nil
	}
	return l.build(ctx, base, shared.Profile, p)
}

// plain returns what the SDK makes of the profile on its own.
func (l *loader) plain(ctx context.Context, profile string, kind LinkKind) (*Chain, error) {
	cfg, err := config.LoadDefaultConfig(ctx, l.loadOptions(l.profile)...)
	if err != nil {
		return nil, l.refused(err)
	}
	link := Link{Kind: kind, Profile: profile, Provider: cfg.Credentials}
	if kind == KindSDK {
		link.Profile = ""
	}
	return &Chain{Profile: profile, Config: cfg, Links: []Link{link}}, nil
}

// refused explains an error of the SDK's loader.
func (l *loader) refused(err error) error {
	env := l.env
	if !l.loaded {
		// The loader failed before handing over its view of the
		// environment: read it as the SDK does.
		env, _ = config.NewEnvConfig()
	}
	profile := l.profile
	if profile == "" {
		profile = env.SharedConfigProfile
	}
	if profile == "" {
		profile = "default"
	}
	raw, rerr := readRaw(configFiles(&l.o, &l.sdkOpts, env), credentialsFiles(&l.o, &l.sdkOpts, env))
	if rerr != nil {
		raw = nil
	}
	return refused(raw, profile, err)
}

// build makes the providers of p on base.
func (l *loader) build(ctx context.Context, base aws.Config, profile string, p plan) (*Chain, error) {
	root, err := l.root(ctx, base, p.root)
	if err != nil {
		return nil, err
	}
	chain := &Chain{Profile: profile, Links: []Link{root}}

	type linkSpec struct {
		link Link
		opts stschain.Options
	}
	var specs []linkSpec
	for _, sc := range p.roles {
		v, err := l.raw.vault(sc.Profile)
		if err != nil {
			return nil, &ConfigError{Profile: sc.Profile, Problem: err.Error()}
		}
		so := stschain.Options{
			RoleARN:           sc.RoleARN,
			RoleSessionName:   sc.RoleSessionName,
			ExternalID:        sc.ExternalID,
			SerialNumber:      sc.MFASerial,
			SourceIdentity:    v.sourceIdentity,
			Tags:              v.tags,
			TransitiveTagKeys: v.transitiveTags,
			Cache:             l.o.Cache,
		}
		if sc.RoleDurationSeconds != nil {
			// Sent as written, as botocore does (the SDK drops 900).
			so.Duration = *sc.RoleDurationSeconds
		}
		if so.SerialNumber != "" {
			so.TokenCode = l.tokenCode(v)
		}
		specs = append(specs, linkSpec{Link{Kind: KindAssumeRole, Profile: sc.Profile, RoleARN: sc.RoleARN, SerialNumber: sc.MFASerial}, so})
	}

	if l.o.SessionDuration > 0 && longTerm(root.Provider) {
		for i := range specs {
			if serial := specs[i].opts.SerialNumber; serial != "" {
				gst := linkSpec{
					link: Link{Kind: KindSessionToken, Profile: specs[i].link.Profile, SerialNumber: serial},
					opts: stschain.Options{Duration: l.o.SessionDuration, SerialNumber: serial, TokenCode: specs[i].opts.TokenCode, Cache: l.o.Cache},
				}
				for j := range specs {
					specs[j].opts.SerialNumber, specs[j].opts.TokenCode = "", nil
					specs[j].link.SerialNumber = ""
				}
				specs = append([]linkSpec{gst}, specs...)
				break
			}
		}
	}

	prev := root.Provider
	for _, s := range specs {
		fns := []func(*stschain.Options){func(o *stschain.Options) { *o = s.opts }}
		fns = append(fns, l.o.LinkOptions...)
		master := prev
		fns = append(fns, func(o *stschain.Options) { o.MasterCredentials = master })
		cp, err := stschain.New(base, fns...)
		if err != nil {
			what := "role_arn " + s.opts.RoleARN
			if s.link.Kind == KindSessionToken {
				what = "the GetSessionToken link of SessionDuration"
			}
			return nil, &ConfigError{Profile: s.link.Profile, Problem: what + ": " + causeText(err), Err: err}
		}
		s.link.Provider = cp
		chain.Links = append(chain.Links, s.link)
		prev = cp
	}
	base.Credentials = prev
	chain.Config = base
	return chain, nil
}

// tokenCode is what gives the MFA codes of a link whose profile has v.
func (l *loader) tokenCode(v vaultKeys) stschain.TokenCodeFunc {
	switch {
	case l.o.TokenCode != nil:
		return l.o.TokenCode
	case v.mfaProcess != "":
		return stschain.ProcessTokenCode(v.mfaProcess)
	}
	return stschain.PromptTokenCode
}

// longTerm reports whether p hands out an IAM user's long-term keys, which
// GetSessionToken accepts.
func longTerm(p aws.CredentialsProvider) bool {
	s, ok := p.(credentials.StaticCredentialsProvider)
	return ok && s.Value.HasKeys() && s.Value.SessionToken == ""
}

// webIdentity is the SDK's web identity provider, in the cache
// LoadDefaultConfig puts it in, with an STS client from cfg: the SDK's own
// loader builds that client before it resolves AWS_ENDPOINT_URL and
// endpoint_url, so its AssumeRoleWithWebIdentity would not go where the
// config's other STS calls go.
func webIdentity(cfg aws.Config, lo *config.LoadOptions, roleARN, tokenFile, sessionName string) aws.CredentialsProvider {
	stsCfg := cfg.Copy()
	stsCfg.Credentials = nil // AssumeRoleWithWebIdentity is not signed
	p := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(stsCfg), roleARN, stscreds.IdentityTokenFile(tokenFile),
		func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = sessionName
			if lo.WebIdentityRoleCredentialOptions != nil {
				lo.WebIdentityRoleCredentialOptions(o)
			}
		})
	return cached(p, lo)
}

// cached wraps p in an aws.CredentialsCache as LoadDefaultConfig does.
func cached(p aws.CredentialsProvider, lo *config.LoadOptions) aws.CredentialsProvider {
	switch p.(type) {
	case *aws.CredentialsCache, credentials.StaticCredentialsProvider:
		return p
	}
	var fns []func(*aws.CredentialsCacheOptions)
	if lo.CredentialsCacheOptions != nil {
		fns = append(fns, lo.CredentialsCacheOptions)
	}
	return aws.NewCredentialsCache(p, fns...)
}

// root builds the root link of r.
func (l *loader) root(ctx context.Context, base aws.Config, r rootPlan) (Link, error) {
	link := Link{Kind: r.kind, Profile: r.sc.Profile}
	switch r.kind {
	case KindStatic:
		link.Provider = credentials.StaticCredentialsProvider{Value: r.sc.Credentials}
		return link, nil
	case KindWebIdentity:
		link.RoleARN = r.sc.RoleARN
		link.Provider = webIdentity(base, &l.sdkOpts, r.sc.RoleARN, r.sc.WebIdentityTokenFile, r.sc.RoleSessionName)
		return link, nil
	}
	p, err := l.sdkRoot(ctx, r)
	if err != nil {
		return Link{}, err
	}
	if s, ok := p.(credentials.StaticCredentialsProvider); ok && r.kind == KindEnvironment && !s.Value.HasKeys() {
		return Link{}, &ConfigError{Profile: r.sc.Profile, Problem: "credential_source is Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set"}
	}
	link.Provider = cached(p, &l.sdkOpts)
	return link, nil
}

// sdkRoot returns the provider the SDK's loader builds for the root r.
// A profile without role_arn (SSO, credential_process) is loaded on its
// own and its credentials are the root. For credential_source, whose
// profile has a role, the root is the source provider of the AssumeRole
// provider the loader makes for that role: the loader hands it to
// AssumeRoleCredentialOptions inside the STS client it gives that
// provider. The loader's own AssumeRole provider is dropped.
func (l *loader) sdkRoot(ctx context.Context, r rootPlan) (aws.CredentialsProvider, error) {
	var source aws.CredentialsProvider
	capture := config.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
		if o.TokenProvider == nil {
			// The loader refuses mfa_serial without one; it is never
			// called, as the loader's AssumeRole provider is not used.
			o.TokenProvider = func() (string, error) { return "", errors.New("awsprofile: not used") }
		}
		if c, ok := o.Client.(*sts.Client); ok && source == nil {
			source = c.Options().Credentials
		}
	})
	cfg, err := config.LoadDefaultConfig(ctx, l.loadOptions(r.sc.Profile, capture)...)
	if err != nil {
		return nil, &ConfigError{Profile: r.sc.Profile, Problem: fmt.Sprintf("the SDK cannot build its %s provider: %s", r.kind, causeText(err)), Err: err}
	}
	if r.sc.RoleARN == "" {
		return cfg.Credentials, nil
	}
	if source == nil {
		return nil, fmt.Errorf("awsprofile: profile %q: the SDK's loader built no %s provider", r.sc.Profile, r.kind)
	}
	return source, nil
}

package awsprofile

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stschain/stschain/internal/httpguard"
)

// root builds the root link of r. Every provider that calls a service
// (STS, the SSO portal, the sign-in service, the container's and the
// instance's credential endpoints) is built from base, the config the SDK
// resolved for the selected profile, so that its calls go where the
// config's other calls go: AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>,
// endpoint_url and services sections included. (The SDK's own loader
// builds these providers before it resolves AWS_ENDPOINT_URL and
// endpoint_url.) The clients of STS, the SSO portal, SSO OIDC and the
// sign-in service send nothing over plain http to a host that is not
// loopback, and read no answer past 256 KiB (internal/httpguard).
func (l *loader) root(base aws.Config, r rootPlan) (Link, error) {
	link := Link{Kind: r.kind, Profile: r.profile}
	var p aws.CredentialsProvider
	switch r.kind {
	case KindStatic, KindEnvironment:
		// In an aws.CredentialsCache, as the SDK puts it: a pointer, which
		// no fmt verb follows.
		link.Provider = l.cached(credentials.StaticCredentialsProvider{Value: r.keys})
		return link, nil
	case KindKeyring:
		// Cached, so that a keyring is read (and its passphrase asked
		// for) once per process.
		link.Provider = l.cached(r.keyring)
		return link, nil
	case KindWebIdentity:
		link.RoleARN = r.roleARN
		p = l.webIdentity(base, r)
	case KindSSO:
		sp, err := l.ssoProvider(base, r)
		if err != nil {
			return Link{}, err
		}
		p = l.shared(sp, ssoCacheKey(r.sso), maxSSOLifetime)
	case KindProcess:
		p = l.shared(l.processProvider(r), processCacheKey(r.process), maxProcessLifetime)
	case KindLogin:
		lp, err := l.loginProvider(base, r)
		if err != nil {
			return Link{}, err
		}
		p = lp
	case KindEcsContainer:
		cp, err := l.containerProvider(base)
		if err != nil {
			return Link{}, &ConfigError{Profile: r.profile, Problem: "the container credentials: " + causeText(err), Err: err}
		}
		return Link{Kind: r.kind, Profile: r.profile, Provider: cp}, nil
	case KindEc2InstanceMetadata:
		p = ec2rolecreds.New(func(o *ec2rolecreds.Options) {
			if l.sdkOpts.EC2RoleCredentialOptions != nil {
				l.sdkOpts.EC2RoleCredentialOptions(o)
			}
			if o.Client == nil {
				o.Client = imds.NewFromConfig(base)
			}
		})
	default:
		return Link{}, fmt.Errorf("awsprofile: no root of kind %q", r.kind)
	}
	link.Provider = l.cached(p)
	return link, nil
}

// cached wraps p in an aws.CredentialsCache as LoadDefaultConfig does, with
// the CredentialsCacheOptions of LoadOptions.
func (l *loader) cached(p aws.CredentialsProvider, optFns ...func(*aws.CredentialsCacheOptions)) aws.CredentialsProvider {
	if l.sdkOpts.CredentialsCacheOptions != nil {
		optFns = append(optFns, l.sdkOpts.CredentialsCacheOptions)
	}
	return aws.NewCredentialsCache(p, optFns...)
}

// webIdentity is the SDK's web identity provider, with an STS client from
// base and a token file read by [readTokenFile].
func (l *loader) webIdentity(base aws.Config, r rootPlan) aws.CredentialsProvider {
	cfg := base.Copy()
	cfg.Credentials = nil // AssumeRoleWithWebIdentity is not signed
	httpguard.Apply(&cfg)
	return stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(cfg), r.roleARN, tokenFile(r.tokenFile),
		func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = r.sessionName
			if l.sdkOpts.WebIdentityRoleCredentialOptions != nil {
				l.sdkOpts.WebIdentityRoleCredentialOptions(o)
			}
		})
}

// tokenFile is a web identity token file, read by readTokenFile.
type tokenFile string

func (f tokenFile) GetIdentityToken() ([]byte, error) { return readTokenFile(string(f)) }

// ecsContainerHost is the host of AWS_CONTAINER_CREDENTIALS_RELATIVE_URI.
const ecsContainerHost = "http://169.254.170.2"

// containerProvider is the SDK's provider of container credentials
// (ECS, EKS Pod Identity) as the SDK's loader configures it from the
// environment: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, with
// AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE (read bounded, as
// readTokenFile reads). A full URI over plain http must name a loopback
// address or one of the container hosts.
func (l *loader) containerProvider(base aws.Config) (aws.CredentialsProvider, error) {
	endpoint := l.env.ContainerCredentialsEndpoint
	if rel := l.env.ContainerCredentialsRelativePath; rel != "" {
		endpoint = ecsContainerHost + rel
	} else if err := checkContainerURI(endpoint); err != nil {
		return nil, err
	}
	p := endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		o.AuthorizationToken = l.env.ContainerAuthorizationToken
		if f := l.env.containerTokenFile; f != "" {
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := readTokenFile(f)
				return string(b), err
			})
		}
		o.APIOptions = base.APIOptions
		if base.Retryer != nil {
			o.Retryer = base.Retryer()
		}
		if l.sdkOpts.EndpointCredentialOptions != nil {
			l.sdkOpts.EndpointCredentialOptions(o)
		}
	})
	return l.cached(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 5 * time.Minute }), nil
}

// containerHosts are the addresses, besides loopback ones, that
// AWS_CONTAINER_CREDENTIALS_FULL_URI may name over plain http: ECS's and
// EKS Pod Identity's.
var containerHosts = []string{"169.254.170.2", "169.254.170.23", "fd00:ec2::23"}

// checkContainerURI is the SDK's check of AWS_CONTAINER_CREDENTIALS_FULL_URI.
func checkContainerURI(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL: %w", err)
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("AWS_CONTAINER_CREDENTIALS_FULL_URI has no host")
	}
	if u.Scheme != "http" {
		return nil
	}
	addrs := []string{host}
	if net.ParseIP(host) == nil {
		if addrs, err = net.LookupHost(host); err != nil {
			return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI: resolving %q: %w", host, err)
		}
	}
	for _, a := range addrs {
		ip := net.ParseIP(a)
		allowed := ip != nil && ip.IsLoopback()
		for _, h := range containerHosts {
			allowed = allowed || ip.Equal(net.ParseIP(h))
		}
		if !allowed {
			return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI names host %q over plain http: want a loopback address or a container host (%s), or https", host, "169.254.170.2, 169.254.170.23, fd00:ec2::23")
		}
	}
	return nil
}

package stschain

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/stschain/stschain/internal/clicache"
	"github.com/stschain/stschain/internal/credcheck"
	"github.com/stschain/stschain/internal/httpguard"
	"github.com/stschain/stschain/internal/stslimits"
)

// The STS call of a link: its parameters, the inputs made of them, one
// call and the checks of its answer, and which refusals of STS a link can
// recover from.

// STSClient is what the provider calls. *sts.Client satisfies it, and tests
// can substitute a fake.
type STSClient interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
	GetSessionToken(ctx context.Context, in *sts.GetSessionTokenInput, optFns ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error)
}

// guardedSTSClient builds an STS client from cfg and optFns with the guard
// of internal/httpguard: no request goes over plain http to a host that is
// not loopback, and no answer is read past httpguard.MaxBody. It refuses at
// once an endpoint, of cfg or of optFns (or of the shared config's
// settings for STS), that would send requests in clear.
func guardedSTSClient(cfg aws.Config, optFns []func(*sts.Options)) (*sts.Client, error) {
	if ep := cfg.BaseEndpoint; ep != nil {
		if err := httpguard.CheckEndpoint("cfg.BaseEndpoint", *ep); err != nil {
			return nil, err
		}
	}
	client := sts.NewFromConfig(cfg, append(slices.Clip(optFns), func(o *sts.Options) {
		o.APIOptions = append(slices.Clip(o.APIOptions), httpguard.AddMiddleware)
	})...)
	if ep := client.Options().BaseEndpoint; ep != nil {
		const setting = "the STS client's BaseEndpoint (from STSOptions, AWS_ENDPOINT_URL_STS or the shared config's services section)"
		if err := httpguard.CheckEndpoint(setting, *ep); err != nil {
			return nil, err
		}
	}
	return client, nil
}

// GetSessionTokenLink names a link with no RoleARN in errors, logs and
// refresh events.
const GetSessionTokenLink = "GetSessionToken"

// linkName is how errors, logs and events name the link of roleARN.
func linkName(roleARN string) string {
	if roleARN == "" {
		return GetSessionTokenLink
	}
	return roleARN
}

// linkParams are what a link asks STS for: the STS parameters of its
// Options.
type linkParams struct {
	RoleARN           string
	RoleSessionName   string
	Duration          time.Duration
	ExternalID        string
	Policy            string
	PolicyARNs        []string
	Tags              map[string]string
	TransitiveTagKeys []string
	SourceIdentity    string
	SerialNumber      string
	TokenCode         TokenCodeFunc
}

// name is how errors, logs and events name the link.
func (p *linkParams) name() string { return linkName(p.RoleARN) }

// assumeRole reports whether the link calls AssumeRole.
func (p *linkParams) assumeRole() bool { return p.RoleARN != "" }

// op is the link's STS operation, for errors.
func (p *linkParams) op() string {
	if p.assumeRole() {
		return OpAssumeRole
	}
	return OpGetSessionToken
}

// call makes one STS call, signed with signer (nil: the client signs on
// its own) and sending code, and checks the answer. capped asks for one
// hour instead of a longer Duration, which STS refused for role chaining.
func (p *linkParams) call(ctx context.Context, client STSClient, signer *aws.Credentials, code *string, capped bool) (aws.Credentials, *types.AssumedRoleUser, error) {
	var optFns []func(*sts.Options)
	var secrets []string
	if signer != nil {
		// Sign with exactly the credentials the link checked.
		static := credentials.StaticCredentialsProvider{Value: *signer}
		optFns = append(optFns, func(o *sts.Options) { o.Credentials = static })
		secrets = []string{signer.SecretAccessKey, signer.SessionToken}
	}
	sent := time.Now()
	if p.assumeRole() {
		out, err := client.AssumeRole(ctx, p.assumeRoleInput(code, sessionName(p.RoleSessionName), p.durationSeconds(capped)), optFns...)
		if err != nil {
			return aws.Credentials{}, nil, newError(p.name(), OpAssumeRole, callError(err), secrets...)
		}
		if out == nil {
			out = &sts.AssumeRoleOutput{}
		}
		creds, err := checkAnswer(out.Credentials, p.maxLifetime(), out.ResultMetadata, sent)
		if err != nil {
			return aws.Credentials{}, nil, newError(p.name(), OpAssumeRole, err)
		}
		if out.AssumedRoleUser != nil {
			creds.AccountID = accountOf(aws.ToString(out.AssumedRoleUser.Arn))
		}
		return creds, out.AssumedRoleUser, nil
	}
	out, err := client.GetSessionToken(ctx, p.sessionTokenInput(code), optFns...)
	if err != nil {
		return aws.Credentials{}, nil, newError(p.name(), OpGetSessionToken, callError(err), secrets...)
	}
	if out == nil {
		out = &sts.GetSessionTokenOutput{}
	}
	creds, err := checkAnswer(out.Credentials, p.maxLifetime(), out.ResultMetadata, sent)
	if err != nil {
		return aws.Credentials{}, nil, newError(p.name(), OpGetSessionToken, err)
	}
	return creds, nil, nil
}

// callError is the error of a failed STS call, wrapping
// ErrMalformedResponse too when the answer was longer than STS's are, or
// was a success that could not be read for another cause than the network.
func callError(err error) error {
	var resp *awshttp.ResponseError
	var netErr net.Error
	unreadable := errors.As(err, &resp) && resp.HTTPStatusCode() >= 200 && resp.HTTPStatusCode() < 300 && !errors.As(err, &netErr)
	if unreadable || errors.Is(err, httpguard.ErrBodyTooLarge) {
		return fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	return err
}

// clockSkew is how far the clocks of this host and of STS may disagree
// when an expiry is judged against the longest session STS grants.
const clockSkew = 5 * time.Minute

// checkAnswer returns the credentials of an STS answer to a request sent
// at sent, or an error wrapping ErrMalformedResponse that says what is
// missing or wrong: a credential of a shape STS does not issue (see
// [credcheck.Check]), or an Expiration that has passed or lies further
// ahead than longest, the longest session STS grants the call, plus
// clockSkew. Both are judged on this host's clock: when the answer's Date
// header (the SDK records it in the answer's metadata) shows STS's clock
// ahead or behind, by a session at most (see answerSkew), the Expiration
// moves by the skew, and the credentials expire at the earliest moment
// the header allows, so that neither a host clock behind STS's hands out
// credentials STS has expired nor one ahead refuses fresh ones, and no
// Date makes a session last longer than STS grants. The errors name
// fields, never a value.
func checkAnswer(c *types.Credentials, longest time.Duration, meta middleware.Metadata, sent time.Time) (aws.Credentials, error) {
	if c == nil {
		return aws.Credentials{}, fmt.Errorf("%w: no Credentials", ErrMalformedResponse)
	}
	var missing []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"AccessKeyId", c.AccessKeyId}, {"SecretAccessKey", c.SecretAccessKey}, {"SessionToken", c.SessionToken}} {
		if aws.ToString(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if c.Expiration == nil || c.Expiration.IsZero() {
		missing = append(missing, "Expiration")
	}
	if len(missing) > 0 {
		return aws.Credentials{}, fmt.Errorf("%w: Credentials has no %s", ErrMalformedResponse, strings.Join(missing, ", "))
	}
	if err := credcheck.Check(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken); err != nil {
		return aws.Credentials{}, fmt.Errorf("%w: Credentials.%w", ErrMalformedResponse, err)
	}
	now := time.Now()
	// On this host's clock: the earliest the credentials may expire and
	// the latest.
	earliest, latest := *c.Expiration, *c.Expiration
	if least, most, ok := answerSkew(meta, sent, longest); ok {
		earliest, latest = earliest.Add(-most), latest.Add(-least)
	}
	if !earliest.After(now) {
		return aws.Credentials{}, fmt.Errorf("%w: the credentials expired at %s, before they arrived (now %s)",
			ErrMalformedResponse, earliest.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if limit := now.Add(longest + clockSkew); latest.After(limit) {
		return aws.Credentials{}, fmt.Errorf("%w: the credentials expire at %s, more than %v from now, but STS grants sessions of %v at most",
			ErrMalformedResponse, latest.UTC().Format(time.RFC3339), longest+clockSkew, longest)
	}
	return aws.Credentials{
		AccessKeyID:     *c.AccessKeyId,
		SecretAccessKey: *c.SecretAccessKey,
		SessionToken:    *c.SessionToken,
		CanExpire:       true,
		Expires:         earliest,
	}, nil
}

// accountOf returns the 12-digit account of an ARN, "" when s is not an
// ARN with one.
func accountOf(s string) string { return clicache.AccountOf(s) }

// durationSeconds is the DurationSeconds to request, nil for STS's
// default; capped: one hour at most for an AssumeRole link.
func (p *linkParams) durationSeconds(capped bool) *int32 {
	d := p.Duration
	if p.assumeRole() && capped && d > stslimits.RoleChainingMaxDuration {
		d = stslimits.RoleChainingMaxDuration
	}
	return seconds(d)
}

// requestedLifetime is the session length the link asks STS for.
func (p *linkParams) requestedLifetime(capped bool) time.Duration {
	if d := p.durationSeconds(capped); d != nil {
		return time.Duration(*d) * time.Second
	}
	if p.assumeRole() {
		return stslimits.DefaultAssumeRoleDuration
	}
	return stslimits.DefaultGetSessionTokenDuration
}

// maxLifetime is the longest session STS could grant the link.
func (p *linkParams) maxLifetime() time.Duration {
	if p.assumeRole() {
		return stslimits.MaxAssumeRoleDuration
	}
	return stslimits.MaxGetSessionTokenDuration
}

func seconds(d time.Duration) *int32 {
	if d == 0 {
		return nil
	}
	return aws.Int32(int32(d / time.Second))
}

func (p *linkParams) assumeRoleInput(code *string, session string, duration *int32) *sts.AssumeRoleInput {
	in := &sts.AssumeRoleInput{
		RoleArn:           aws.String(p.RoleARN),
		RoleSessionName:   optString(session),
		DurationSeconds:   duration,
		ExternalId:        optString(p.ExternalID),
		Policy:            optString(p.Policy),
		SourceIdentity:    optString(p.SourceIdentity),
		TransitiveTagKeys: p.TransitiveTagKeys,
		SerialNumber:      optString(p.SerialNumber),
		TokenCode:         code,
	}
	for _, a := range p.PolicyARNs {
		in.PolicyArns = append(in.PolicyArns, types.PolicyDescriptorType{Arn: aws.String(a)})
	}
	for _, k := range slices.Sorted(maps.Keys(p.Tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(p.Tags[k])})
	}
	return in
}

func (p *linkParams) sessionTokenInput(code *string) *sts.GetSessionTokenInput {
	return &sts.GetSessionTokenInput{
		DurationSeconds: p.durationSeconds(false), // only role chaining is capped
		SerialNumber:    optString(p.SerialNumber),
		TokenCode:       code,
	}
}

// sessionName is name, or a generated one when name is empty.
func sessionName(name string) string {
	if name != "" {
		return name
	}
	return "stschain-" + strconv.FormatInt(time.Now().UnixNano(), 10)
}

// masterRejected reports whether STS refused the credentials that signed the
// call.
func masterRejected(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ExpiredToken", "InvalidClientTokenId":
		return true
	}
	return false
}

// roleChainingRefused reports whether err is STS refusing a duration over
// one hour for a role assumed with role credentials.
func roleChainingRefused(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" &&
		strings.Contains(ae.ErrorMessage(), "role chaining")
}

// tokenCodeRefused reports whether err is STS refusing the MFA code itself
// (AccessDenied "MultiFactorAuthentication failed with invalid MFA one time
// pass code."), rather than the device or the caller.
func tokenCodeRefused(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied" &&
		strings.Contains(ae.ErrorMessage(), "invalid MFA one time pass code")
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

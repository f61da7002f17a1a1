package stschain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/stschain/stschain/internal/clicache"
	"github.com/stschain/stschain/internal/stslimits"
)

// The STS link: what a provider asks STS for, signed with which
// credentials, and how it recovers when STS refuses. Its fetch is the
// refresh engine's fetch function.

// tokenCodeAttemptsRefused bounds the codes sent for one STS call that
// refuses them as invalid (a mistyped code, a device clock that drifted).
const tokenCodeAttemptsRefused = 3

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

func paramsOf(o *Options) linkParams {
	return linkParams{
		RoleARN: o.RoleARN, RoleSessionName: o.RoleSessionName, Duration: o.Duration,
		ExternalID: o.ExternalID, Policy: o.Policy, PolicyARNs: o.PolicyARNs, Tags: o.Tags,
		TransitiveTagKeys: o.TransitiveTagKeys, SourceIdentity: o.SourceIdentity,
		SerialNumber: o.SerialNumber, TokenCode: o.TokenCode,
	}
}

// linkConfig is what a link needs besides its parameters and master. The
// providers of a Pool share one.
type linkConfig struct {
	client  STSClient
	guard   *CodeGuard   // never nil
	logger  *slog.Logger // never nil
	cache   Cache        // nil: no cache
	windows windows      // to judge cache entries
	budget  *budget      // a Pool's bounds on STS calls; nil: none
}

// stsLink is one link of a chain.
type stsLink struct {
	// Set by New, read-only afterwards.
	cfg    *linkConfig
	params linkParams
	master aws.CredentialsProvider // nil only when Options.Client signs on its own
	// cacheKey is the Cache key of an AssumeRole link, computed once by New
	// (it does not depend on the master); "" otherwise.
	cacheKey string

	// chainingCapped is set once STS refused Options.Duration for role
	// chaining; later calls ask for one hour straight away.
	chainingCapped atomic.Bool
}

// name is how errors, logs and events name the link.
func (l *stsLink) name() string { return linkName(l.params.RoleARN) }

// assumeRole reports whether the link calls AssumeRole.
func (l *stsLink) assumeRole() bool { return l.params.RoleARN != "" }

// fetch returns new credentials from the cache or STS.
func (l *stsLink) fetch(ctx context.Context, req fetchRequest) (fetched, error) {
	useCache := l.cfg.cache != nil
	lookup := useCache && !req.skipCache

	// An AssumeRole key does not depend on the master: look first, so that a
	// fresh entry costs the links below nothing (no STS call, no MFA).
	if lookup && l.assumeRole() {
		if got, ok := l.loadCache(ctx, l.cacheKey, req.current); ok {
			return got, nil
		}
	}
	masterCreds, err := l.retrieveMaster(ctx)
	if err != nil {
		return fetched{}, err
	}
	key := l.cacheKey
	if useCache && !l.assumeRole() {
		key = l.sessionTokenKey(masterCreds.AccessKeyID)
		if lookup {
			if got, ok := l.loadCache(ctx, key, req.current); ok {
				return got, nil
			}
		}
	}
	if useCache {
		if unlock, locked := l.lockCache(ctx, key); locked {
			defer unlock()
			// Another process may have refreshed while this one waited.
			if lookup {
				if got, ok := l.loadCache(ctx, key, req.current); ok {
					return got, nil
				}
			}
		}
	}

	creds, user, err := l.call(ctx, masterCreds, req)
	if err != nil {
		return fetched{}, err
	}
	if useCache {
		l.storeCache(ctx, key, CacheEntry{Credentials: creds, AssumedRoleUser: user})
	}
	creds.Source = ProviderName
	return fetched{creds: creds, life: time.Until(creds.Expires)}, nil
}

// retrieveMaster returns the master's credentials, or the zero value when
// Options.Client signs on its own.
func (l *stsLink) retrieveMaster(ctx context.Context) (aws.Credentials, error) {
	if l.master == nil {
		return aws.Credentials{}, nil
	}
	creds, err := l.master.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, newError(l.name(), OpMaster, err)
	}
	if !creds.HasKeys() {
		return aws.Credentials{}, newError(l.name(), OpMaster, fmt.Errorf("the master (%T) returned credentials without an access key ID or secret key", l.master))
	}
	if !l.assumeRole() && creds.SessionToken != "" {
		return aws.Credentials{}, newError(l.name(), OpMaster, ErrLongTermCredentialsRequired)
	}
	return creds, nil
}

// call makes the link's STS call, signed with masterCreds, and tries again
// where that can succeed: with fresh master credentials when STS refused
// the master's, with one hour when STS refused a longer role-chaining
// session, and with a new MFA code when STS refused the code. A code STS
// did not look at (the call was refused for its signature or its duration)
// is sent again.
func (l *stsLink) call(ctx context.Context, masterCreds aws.Credentials, req fetchRequest) (aws.Credentials, *types.AssumedRoleUser, error) {
	var code *string
	reason := ""
	for codes, recovered := 1, false; ; {
		if l.params.SerialNumber != "" && code == nil {
			c, err := l.cfg.guard.fetch(withRetryReason(ctx, reason), l.params.TokenCode, l.params.SerialNumber)
			if err != nil {
				return aws.Credentials{}, nil, newError(l.name(), OpTokenCode, err)
			}
			code = &c
		}
		creds, user, err := l.callOnce(ctx, masterCreds, code, req)
		switch {
		case err == nil:
			return creds, user, nil
		case !recovered && masterRejected(err):
			// The master's credentials were revoked or expired early: make
			// the master fetch new ones and try once more, if they are new.
			recovered = true
			fresh, ok := l.recoverMaster(ctx, masterCreds)
			if !ok {
				return aws.Credentials{}, nil, err
			}
			masterCreds = fresh
		case l.assumeRole() && l.params.Duration > stslimits.RoleChainingMaxDuration && !l.chainingCapped.Load() && roleChainingRefused(err):
			l.chainingCapped.Store(true)
			l.cfg.logger.Warn("stschain: STS limits role chaining to one hour; asking for one hour instead of Duration",
				slog.String("link", l.name()), slog.Duration("duration", l.params.Duration))
		case code != nil && codes < tokenCodeAttemptsRefused && tokenCodeRefused(err):
			codes++
			code = nil
			reason = "STS refused the MFA code for " + l.params.SerialNumber + "; enter the current code"
			l.cfg.logger.Warn("stschain: STS refused the MFA code; asking for another",
				slog.String("link", l.name()), slog.String("serial", l.params.SerialNumber))
		default:
			return aws.Credentials{}, nil, err
		}
	}
}

// recoverMaster invalidates the master, when it can be invalidated, and
// returns its fresh credentials if they differ from rejected.
func (l *stsLink) recoverMaster(ctx context.Context, rejected aws.Credentials) (aws.Credentials, bool) {
	inv, ok := l.master.(interface{ Invalidate() })
	if !ok {
		return aws.Credentials{}, false
	}
	inv.Invalidate()
	fresh, err := l.retrieveMaster(ctx)
	if err != nil {
		l.cfg.logger.Warn("stschain: fresh master credentials could not be had", slog.String("link", l.name()), slog.String("error", err.Error()))
		return aws.Credentials{}, false
	}
	if fresh.AccessKeyID == rejected.AccessKeyID && fresh.SessionToken == rejected.SessionToken {
		return aws.Credentials{}, false // the same credentials would be refused the same way
	}
	l.cfg.logger.Warn("stschain: STS rejected the master credentials; retrying with fresh ones", slog.String("link", l.name()))
	return fresh, true
}

// callOnce makes one STS call, within the Pool's budget if there is one,
// and checks the answer.
func (l *stsLink) callOnce(ctx context.Context, masterCreds aws.Credentials, code *string, req fetchRequest) (aws.Credentials, *types.AssumedRoleUser, error) {
	if b := l.cfg.budget; b != nil {
		release, err := b.acquire(ctx, req)
		if err != nil {
			return aws.Credentials{}, nil, newError(l.name(), l.op(), err)
		}
		defer release()
		creds, user, err := l.callOnceUnbounded(ctx, masterCreds, code)
		b.observe(err)
		if err == nil {
			b.noteLifetime(time.Until(creds.Expires))
		}
		return creds, user, err
	}
	return l.callOnceUnbounded(ctx, masterCreds, code)
}

// op is the link's STS operation, for errors.
func (l *stsLink) op() string {
	if l.assumeRole() {
		return OpAssumeRole
	}
	return OpGetSessionToken
}

func (l *stsLink) callOnceUnbounded(ctx context.Context, masterCreds aws.Credentials, code *string) (aws.Credentials, *types.AssumedRoleUser, error) {
	var optFns []func(*sts.Options)
	if l.master != nil {
		// Sign with exactly the credentials checked above.
		signer := credentials.StaticCredentialsProvider{Value: masterCreds}
		optFns = append(optFns, func(o *sts.Options) { o.Credentials = signer })
	}
	secrets := []string{masterCreds.SecretAccessKey, masterCreds.SessionToken}
	if l.assumeRole() {
		out, err := l.cfg.client.AssumeRole(ctx, l.assumeRoleInput(code, sessionName(l.params.RoleSessionName), l.durationSeconds()), optFns...)
		if err != nil {
			return aws.Credentials{}, nil, newError(l.name(), OpAssumeRole, err, secrets...)
		}
		if out == nil {
			out = &sts.AssumeRoleOutput{}
		}
		creds, err := checkAnswer(out.Credentials)
		if err != nil {
			return aws.Credentials{}, nil, newError(l.name(), OpAssumeRole, err)
		}
		if out.AssumedRoleUser != nil {
			creds.AccountID = accountOf(aws.ToString(out.AssumedRoleUser.Arn))
		}
		return creds, out.AssumedRoleUser, nil
	}
	out, err := l.cfg.client.GetSessionToken(ctx, l.sessionTokenInput(code), optFns...)
	if err != nil {
		return aws.Credentials{}, nil, newError(l.name(), OpGetSessionToken, err, secrets...)
	}
	if out == nil {
		out = &sts.GetSessionTokenOutput{}
	}
	creds, err := checkAnswer(out.Credentials)
	if err != nil {
		return aws.Credentials{}, nil, newError(l.name(), OpGetSessionToken, err)
	}
	return creds, nil, nil
}

// checkAnswer returns the credentials of an STS answer, or an error
// wrapping ErrMalformedResponse that says what is missing.
func checkAnswer(c *types.Credentials) (aws.Credentials, error) {
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
	if now := time.Now(); !c.Expiration.After(now) {
		return aws.Credentials{}, fmt.Errorf("%w: the credentials expired at %s, before they arrived (now %s)",
			ErrMalformedResponse, c.Expiration.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return aws.Credentials{
		AccessKeyID:     *c.AccessKeyId,
		SecretAccessKey: *c.SecretAccessKey,
		SessionToken:    *c.SessionToken,
		CanExpire:       true,
		Expires:         *c.Expiration,
	}, nil
}

// accountOf returns the 12-digit account of an ARN, "" when s is not an
// ARN with one.
func accountOf(s string) string { return clicache.AccountOf(s) }

// durationSeconds is the DurationSeconds to request, nil for STS's default.
func (l *stsLink) durationSeconds() *int32 {
	d := l.params.Duration
	if l.assumeRole() && l.chainingCapped.Load() && d > stslimits.RoleChainingMaxDuration {
		d = stslimits.RoleChainingMaxDuration
	}
	return seconds(d)
}

// requestedLifetime is the session length this link asks STS for.
func (l *stsLink) requestedLifetime() time.Duration {
	if d := l.durationSeconds(); d != nil {
		return time.Duration(*d) * time.Second
	}
	if l.assumeRole() {
		return stslimits.DefaultAssumeRoleDuration
	}
	return stslimits.DefaultGetSessionTokenDuration
}

// maxLifetime is the longest session STS could grant this link.
func (l *stsLink) maxLifetime() time.Duration {
	if l.assumeRole() {
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

func (l *stsLink) assumeRoleInput(code *string, session string, duration *int32) *sts.AssumeRoleInput {
	o := &l.params
	in := &sts.AssumeRoleInput{
		RoleArn:           aws.String(o.RoleARN),
		RoleSessionName:   optString(session),
		DurationSeconds:   duration,
		ExternalId:        optString(o.ExternalID),
		Policy:            optString(o.Policy),
		SourceIdentity:    optString(o.SourceIdentity),
		TransitiveTagKeys: o.TransitiveTagKeys,
		SerialNumber:      optString(o.SerialNumber),
		TokenCode:         code,
	}
	for _, a := range o.PolicyARNs {
		in.PolicyArns = append(in.PolicyArns, types.PolicyDescriptorType{Arn: aws.String(a)})
	}
	for _, k := range slices.Sorted(maps.Keys(o.Tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(o.Tags[k])})
	}
	return in
}

func (l *stsLink) sessionTokenInput(code *string) *sts.GetSessionTokenInput {
	return &sts.GetSessionTokenInput{
		DurationSeconds: l.durationSeconds(),
		SerialNumber:    optString(l.params.SerialNumber),
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

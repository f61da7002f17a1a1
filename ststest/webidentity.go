//lint:file-ignore ST1005 these errors carry STS's own message texts, which clients see verbatim

package ststest

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/stschain/stschain/internal/stslimits"
)

// AssumeRoleWithWebIdentity refusals, in STS's words.
const (
	// msgWebDenied is the AccessDenied (403) answer for a role that does
	// not trust the token's provider (aws/aws-sdk-java-v2#1470,
	// aws-amplify/aws-sdk-android#9).
	msgWebDenied = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
	// msgWebInvalid is the InvalidIdentityToken (400) answer for a token
	// the server does not know: the STS API reference's description of
	// the error (the sts module's types.InvalidIdentityTokenException).
	// STS's own texts name a check a real token failed, such as "No
	// OpenIDConnect provider found in your account for https://ISSUER",
	// which an unknown token has no equivalent of.
	msgWebInvalid = "The web identity token that was passed could not be validated by Amazon Web Services. Get a new identity token from the identity provider and then retry the request."
	// msgWebExpired is the ExpiredTokenException (400) answer for a token
	// past its exp claim, with the server clock's time and the token's
	// expiry in Unix seconds (aws/aws-sdk-java-v2#5709).
	msgWebExpired = "Token expired: current date/time %d must be before the expiration date/time %d"
)

// defaultAudience is a token's aud claim when [WebIdentityToken.Audience]
// is empty.
const defaultAudience = "sts.amazonaws.com"

// assumeRoleWithWebIdentity answers an AssumeRoleWithWebIdentity request,
// which is not signed: the web identity token stands for the caller.
func (s *Server) assumeRoleWithWebIdentity(form url.Values, reqID string, call *Call) (any, *apiError) {
	var v validation
	roleARN, name := roleParams(form, &v)
	raw := form.Get("WebIdentityToken")
	switch {
	case !form.Has("WebIdentityToken"):
		v.add(nil, "webIdentityToken", "not be null")
	case len(raw) < 4:
		// The token is a credential: unlike other values, it is not
		// quoted.
		v.addHidden("webIdentityToken", "have length greater than or equal to 4")
	case len(raw) > 20000:
		v.addHidden("webIdentityToken", "have length less than or equal to 20000")
	}
	if form.Has("ProviderId") { // OAuth 2.0 providers only; accepted and unused
		v.length(form.Get("ProviderId"), "providerId", 4, 2048)
	}
	d := durationParam(form, &v, stslimits.DefaultAssumeRoleDuration, int(stslimits.MaxAssumeRoleDuration/time.Second))
	if err := v.err(); err != nil {
		return nil, err
	}

	tok := s.webTokens[raw]
	if tok == nil {
		return nil, errorf(http.StatusBadRequest, "InvalidIdentityToken", "%s", msgWebInvalid)
	}
	call.WebIdentitySubject = tok.Subject
	s.mu.Lock()
	now := s.nowLocked()
	s.mu.Unlock()
	if !tok.Expires.IsZero() && !now.Before(tok.Expires) {
		return nil, errorf(http.StatusBadRequest, "ExpiredTokenException", msgWebExpired, now.Unix(), tok.Expires.Unix())
	}
	role := s.roles[roleARN]
	if role == nil {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "%s", msgWebDenied)
	}
	acct, _ := splitRoleARN(role.ARN)
	providerARN := "arn:aws:iam::" + acct + ":oidc-provider/" + tok.Provider
	if !slices.Contains(role.Trust, providerARN) || role.RequireMFA || role.ExternalID != "" {
		return nil, errorf(http.StatusForbidden, "AccessDenied", "%s", msgWebDenied)
	}
	if d > cmp.Or(role.MaxSessionDuration, stslimits.DefaultRoleMaxSessionDuration) {
		return nil, errorf(http.StatusBadRequest, "ValidationError", msgMaxDuration)
	}
	if role.Lifetime != 0 {
		d = role.Lifetime
	}
	sess := s.issue(d, func(ns *session) {
		ns.role = role
		ns.sessionName = name
	})
	call.IssuedAccessKeyID = sess.accessKeyID

	var out assumeRoleWithWebIdentityResponse
	out.Xmlns = stsNamespace
	out.Result.SubjectFromWebIdentityToken = tok.Subject
	out.Result.Audience = cmp.Or(tok.Audience, defaultAudience)
	out.Result.AssumedRoleUser.Arn = s.AssumedRoleARN(role.ARN, name)
	out.Result.AssumedRoleUser.AssumedRoleID = principalID("AROA", role.ARN) + ":" + name
	out.Result.Credentials = credentialsXML(sess)
	out.Result.Provider = providerARN
	out.ResponseMetadata.RequestID = reqID
	return &out, nil
}

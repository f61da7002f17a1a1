// Package ststest provides a fake AWS Security Token Service (STS) HTTP
// server for tests, shaped like net/http/httptest: [NewServer] returns a
// started [Server] listening on 127.0.0.1 with a URL field, and
// [Server.Close] waits for in-flight requests. [NewUnstartedServer]
// returns one that does not listen yet, whose Listener and HTTPServer
// (timeouts included) a test may change before [Server.Start]. A Server
// is an [http.Handler].
//
// [NewInMemoryServer] returns a server reached without sockets: the
// transport of its client serves each request by calling the handler in
// the calling goroutine. Tests use it to run the fake, and the SDK
// clients talking to it, inside a testing/synctest bubble, where
// latency, session lifetimes and TOTP steps pass in fake time:
//
//	synctest.Test(t, func(t *testing.T) {
//		srv := ststest.NewInMemoryServer(cfg)
//		defer srv.Close()
//		client := sts.NewFromConfig(srv.AWSConfig("alice"))
//		// ... AssumeRole for one hour ...
//		time.Sleep(2 * time.Hour) // in no real time: the session has expired
//	})
//
// The real aws-sdk-go-v2 STS client and the AWS CLI talk to it unchanged
// (see [Server.AWSConfig]). It is faithful where a credential chain can go
// wrong: a chain that works against it works against AWS, and a chain AWS
// refuses is refused by it, with the error codes, messages and HTTP status
// codes STS uses, so errors.As(err, &smithy.APIError) and the SDK's
// retryer behave as against AWS.
//
// # Protocol and signatures
//
// Requests use the awsQuery protocol, as both aws-sdk-go-v2's sts module
// and botocore send it: POST with a form-encoded body
// (Action=...&Version=2011-06-15&...); the same parameters in a GET query
// string are accepted too. Answers are STS's XML, with a request ID in the
// body and in the x-amzn-RequestId header.
//
// Every request must carry one SigV4 Authorization header (except
// AssumeRoleWithWebIdentity, which STS takes unsigned). The server
// verifies it itself, from the specification (canonical request, body
// hash recomputed from the body, the server's region ([Config.Region])
// and service "sts" in the credential scope), not with the SDK's signer,
// so requests signed by the Go SDK and by botocore are checked
// independently. The signing time may be at most five minutes from the
// server clock (see Time), as on STS, or from time.Now (the wall clock, or
// a synctest bubble's clock), so that a client that does not correct its
// clock from the answers' Date header keeps working whatever
// [Server.Advance] did. The refusals are those of STS:
// InvalidClientTokenId (unknown or revoked key, missing or wrong
// X-Amz-Security-Token), SignatureDoesNotMatch (bad signature,
// "Signature expired", or "Credential should be scoped to a valid
// region. "), IncompleteSignature (a malformed Authorization header, or
// several), ExpiredToken (an issued session past its expiration on the
// server clock), MissingAuthenticationToken.
//
// # Actions
//
// AssumeRole checks the role's trust ([Role.Trust]; an assumed-role
// session is its role ARN; an unknown role is refused as an untrusted one),
// the session name, DurationSeconds (900 s to the role's
// MaxSessionDuration, and at most one hour when the caller signs with
// temporary credentials: role chaining), the external ID, and MFA.
// GetSessionToken is refused to temporary credentials and accepts 900 s to
// 36 h (default 12 h). GetCallerIdentity answers for users, their
// GetSessionToken sessions (as the user), assumed-role sessions and
// federated users. GetFederationToken, refused to temporary credentials
// too, issues a session of the federated user Name (900 s to 36 h,
// default 12 h); the federation endpoint beside STS
// ([Server.FederationURL]) turns role and federated sessions into console
// sign-in tokens, which [Server.ValidateSigninToken] checks. Issued access
// key IDs start with ASIA; long-term ones must start with AKIA.
//
// AssumeRoleWithWebIdentity, as EKS pods (IRSA) and CI jobs call it
// through the SDK's stscreds.WebIdentityRoleProvider or a profile's
// web_identity_token_file, takes an unsigned request: the token stands
// for the caller. The server knows the tokens of [Config.WebIdentityTokens]
// (each with its provider, subject, audience and optional expiry) and
// issues a session of a role whose Trust names the token's provider,
// arn:aws:iam::ACCOUNT:oidc-provider/PROVIDER, answering
// SubjectFromWebIdentityToken, Audience and Provider as STS does. The
// session answers GetCallerIdentity as the assumed role and may assume
// roles that trust its role, for one hour at most (role chaining). The
// refusals are STS's: InvalidIdentityToken for an unknown token,
// ExpiredTokenException for one past its expiry, AccessDenied "Not
// authorized to perform sts:AssumeRoleWithWebIdentity" for a role that
// does not trust the provider (or requires MFA or an external ID), and
// ValidationError for parameters; the token is never quoted.
//
// Parameters are checked against the constraints of STS's API model and
// refused with STS's ValidationError texts, such as "1 validation error
// detected: Value 'x' at 'roleSessionName' failed to satisfy constraint:
// Member must have length greater than or equal to 2". A refused trust
// (or an unknown role, or a wrong external ID) is AccessDenied "User: ARN
// is not authorized to perform: sts:AssumeRole on resource: ROLE".
//
// # MFA
//
// A user's device accepts the fixed [User.MFACodes], the codes
// [Server.TokenCode] returns (a new random code each time, as a user
// reads one off the device; srv.TokenCode is a stschain.TokenCodeFunc)
// and, with [User.TOTPSecret], RFC 6238 codes of the server clock's
// current step ±1; each code is accepted once. A session issued by an
// MFA-authenticated GetSessionToken or AssumeRole is itself
// MFA-authenticated: it satisfies [Role.RequireMFA] without a code. This
// includes role chaining: a session of a role assumed with MFA may assume
// another role that requires MFA. That is how AWS documents MFA-protected
// API access (the temporary credentials returned by an AssumeRole or
// GetSessionToken call that included MFA carry aws:MultiFactorAuthPresent
// into the requests made with them, and AssumeRole is such a request). An
// assumed-role session has no MFA device of its own, so it cannot present
// a code.
//
// MFA refusals are AccessDenied with STS's texts: a serial number that is
// not the caller's device ("... unable to validate MFA code. Please verify
// your MFA serial number ..."), a wrong or already used code ("...
// failed with invalid MFA one time pass code."), or only one of
// SerialNumber and TokenCode ("... must provide both MFA serial number and
// one time pass code.").
//
// # Time
//
// The server clock is time.Now (the wall clock, or a synctest bubble's
// fake clock) plus every [Server.Advance], or an offset either way that
// [Server.SetClockOffset] sets, for a host clock behind or ahead of
// STS's. It decides expirations, Expiration values, TOTP codes and each
// answer's Date header, from which clients measure their clock's skew.
// [Role.Lifetime] and [Config.SessionTokenLifetime] shorten issued
// sessions (to seconds, say) so tests can expire them with Advance, or
// with time.Sleep in a bubble, instead of sleeping. [Server.Now] reads the
// server clock; compute TOTP codes against it.
//
// # Observing and injecting faults
//
// [Server.Calls] returns the recorded requests, refused ones included,
// each with the access key that signed it; given patterns, only those
// matching one, such as srv.Calls(ststest.Call{Action: "AssumeRole",
// RoleARN: arn}), so len counts them. [Server.FailNext] fails the next
// requests with a chosen status and code; [Server.SetOutage] fails every
// request until [Server.EndOutage]. Injected failures come before
// authentication and use STS's XML error shape, so the SDK retries a 5xx
// or Throttling answer exactly as it retries a real one.
// [Server.SetLatency] delays answers (cut short by [Server.Close]), and
// [Server.Revoke] invalidates a key; sessions issued with a revoked key
// stay valid until they expire, as AWS documents for temporary
// credentials.
//
// Memory stays bounded however long a server runs: it keeps the most
// recent [Config.MaxCalls] calls ([DefaultMaxCalls] by default) and
// forgets each session once it has expired. Its credentials still get
// ExpiredToken, because issued session tokens describe themselves, as
// STS's do.
//
// The server never logs. [Call] records the MFA TokenCode as sent (tests
// assert on it) but never a secret access key, session token or web
// identity token; only the answers that issue credentials carry issued
// secrets.
package ststest

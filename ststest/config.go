package ststest

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stschain/stschain/internal/stslimits"
)

// Config declares the account, users and roles a [Server] knows.
// A Config is copied by [NewServer]; changing it afterwards has no effect.
type Config struct {
	// AccountID is the 12-digit account of the users and the default account
	// of ARNs. Required.
	AccountID string
	// Users are the IAM users with long-term access keys. Optional.
	Users []User
	// Roles are the roles that AssumeRole and AssumeRoleWithWebIdentity
	// may assume. Optional.
	Roles []Role
	// WebIdentityTokens are the tokens AssumeRoleWithWebIdentity accepts.
	// Optional.
	WebIdentityTokens []WebIdentityToken
	// SessionTokenLifetime, when not zero, is the lifetime of every session
	// GetSessionToken issues, whatever DurationSeconds the request asked for
	// (the request is still validated). Zero means as requested. Optional.
	SessionTokenLifetime time.Duration
	// Region is the region of the endpoint: the SigV4 credential scope of
	// each request must name it, as STS refuses a scope for another region
	// ("Credential should be scoped to a valid region. "), and
	// [Server.AWSConfig] uses it as the client's region. Zero means
	// [DefaultRegion], the region of STS's global endpoint. Optional.
	Region string
	// MaxCalls is how many calls the server remembers for [Server.Calls]:
	// once it has that many, each new call drops the oldest, so a
	// long-running server uses bounded memory. Zero means
	// [DefaultMaxCalls]. Optional.
	MaxCalls int
}

// User is an IAM user in [Config.AccountID] with one long-term access key
// and at most one MFA device.
type User struct {
	// Name is the user name; its ARN is arn:aws:iam::ACCOUNT:user/NAME.
	// Required.
	Name string
	// AccessKeyID is the user's long-term key ID; it must start with AKIA.
	// Required.
	AccessKeyID string
	// SecretAccessKey is the secret of AccessKeyID. Required.
	SecretAccessKey string
	// MFASerial is the serial number (ARN) of the user's MFA device.
	// Required when MFACodes or TOTPSecret is set.
	MFASerial string
	// MFACodes are one-time codes the device accepts, each at most once.
	// Optional.
	MFACodes []string
	// TOTPSecret is the base32 secret of a virtual MFA device; codes are
	// checked per RFC 6238 (SHA1, 6 digits, 30 s step, the current step
	// ±1) against the server clock, each at most once. Optional.
	TOTPSecret string
}

// WebIdentityToken is a token of an OpenID Connect identity provider,
// such as the service account token EKS writes for IAM roles for service
// accounts (IRSA) or a CI system's OIDC token, which
// AssumeRoleWithWebIdentity exchanges for a role session. The server does
// not parse tokens: it knows the ones listed here, with their claims.
type WebIdentityToken struct {
	// Token is the token as sent in WebIdentityToken (a JWT, say), 4 to
	// 20000 characters. It is a credential: the server never records it
	// nor puts it in an error. Required.
	Token string
	// Provider is the identity provider: its issuer URL without
	// "https://", such as "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
	// or "token.actions.githubusercontent.com". A role trusts the
	// provider's IAM ARN, arn:aws:iam::ACCOUNT:oidc-provider/PROVIDER in
	// the role's account, and STS answers that ARN as Provider. Required.
	Provider string
	// Subject is the token's sub claim, such as
	// "system:serviceaccount:default:app", 6 to 255 characters; STS
	// answers it as SubjectFromWebIdentityToken. Required.
	Subject string
	// Audience is the token's aud claim, answered as Audience. Zero means
	// "sts.amazonaws.com", the audience of EKS and GitHub Actions tokens
	// for AWS. Optional.
	Audience string
	// Expires, when not zero, is the token's exp claim: from then on, on
	// the server clock, STS refuses the token with ExpiredTokenException.
	// Zero means the token does not expire. Optional.
	Expires time.Time
}

// Role is an IAM role that AssumeRole and AssumeRoleWithWebIdentity can
// assume.
type Role struct {
	// ARN is the role's ARN, arn:aws:iam::ACCOUNT:role/[PATH/]NAME; the
	// account may differ from [Config.AccountID]. Required.
	ARN string
	// Trust lists the principals allowed to assume the role: user ARNs and
	// role ARNs (a session of a listed role may assume it: role chaining).
	// arn:aws:iam::ACCOUNT:root, or a bare 12-digit account ID, trusts
	// every user and role of that account. An identity provider's ARN,
	// arn:aws:iam::ACCOUNT:oidc-provider/PROVIDER with ACCOUNT the role's
	// account, lets AssumeRoleWithWebIdentity assume it with every token
	// of that provider (see [WebIdentityToken.Provider]). Empty trusts
	// nobody. Optional.
	Trust []string
	// RequireMFA makes AssumeRole require MFA: a valid code in the request,
	// or a caller session that is MFA-authenticated. A web identity cannot
	// satisfy it. Optional.
	RequireMFA bool
	// ExternalID, when not empty, must be sent as ExternalId to AssumeRole;
	// AssumeRoleWithWebIdentity, which has no ExternalId, cannot assume
	// the role. Optional.
	ExternalID string
	// MaxSessionDuration is the longest DurationSeconds AssumeRole accepts,
	// from one to twelve hours. Zero means one hour. Optional.
	MaxSessionDuration time.Duration
	// Lifetime, when not zero, is the lifetime of every session issued for
	// this role whatever the request asked for (the request is still
	// validated); tests use a few seconds together with [Server.Advance].
	// Zero means as requested. Optional.
	Lifetime time.Duration
}

// DefaultRegion is the server's region when [Config.Region] is zero: the
// region of STS's global endpoint, sts.amazonaws.com.
const DefaultRegion = "us-east-1"

var (
	regionRE      = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)
	accountRE     = regexp.MustCompile(`^\d{12}$`)
	userNameRE    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	roleARNRE     = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/((?:[\x21-\x7e]+/)?)([\w+=,.@-]{1,64})$`)
	userARNRE     = regexp.MustCompile(`^arn:aws:iam::(\d{12}):user/((?:[\x21-\x7e]+/)?)([\w+=,.@-]{1,64})$`)
	rootARNRE     = regexp.MustCompile(`^arn:aws:iam::(\d{12}):root$`)
	oidcARNRE     = regexp.MustCompile(`^arn:aws:iam::(\d{12}):oidc-provider/([\x21-\x7e]+)$`)
	providerRE    = regexp.MustCompile(`^[\x21-\x7e]+$`)
	accessKeyIDRE = regexp.MustCompile(`^AKIA[A-Z0-9]{12,124}$`)
)

// Validate reports the first problem that makes c unusable, naming it.
func (c Config) Validate() error {
	if !accountRE.MatchString(c.AccountID) {
		return fmt.Errorf("ststest: Config.AccountID %q is not 12 digits", c.AccountID)
	}
	if c.SessionTokenLifetime < 0 {
		return errors.New("ststest: Config.SessionTokenLifetime is negative")
	}
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		return fmt.Errorf("ststest: Config.Region %q is not a region name such as us-east-1", c.Region)
	}
	if c.MaxCalls < 0 {
		return errors.New("ststest: Config.MaxCalls is negative")
	}
	names := map[string]bool{}
	keys := map[string]bool{}
	serials := map[string]bool{}
	for i, u := range c.Users {
		where := fmt.Sprintf("ststest: Config.Users[%d] (%q)", i, u.Name)
		switch {
		case !userNameRE.MatchString(u.Name):
			return fmt.Errorf("%s: Name must match [\\w+=,.@-]{1,64}", where)
		case names[u.Name]:
			return fmt.Errorf("%s: duplicate user name", where)
		case !accessKeyIDRE.MatchString(u.AccessKeyID):
			return fmt.Errorf("%s: AccessKeyID must be AKIA followed by at least 12 upper-case letters or digits", where)
		case keys[u.AccessKeyID]:
			return fmt.Errorf("%s: duplicate AccessKeyID", where)
		case u.SecretAccessKey == "":
			return fmt.Errorf("%s: SecretAccessKey is empty", where)
		case (len(u.MFACodes) > 0 || u.TOTPSecret != "") && u.MFASerial == "":
			return fmt.Errorf("%s: MFACodes or TOTPSecret set without MFASerial", where)
		case u.MFASerial != "" && serials[u.MFASerial]:
			return fmt.Errorf("%s: duplicate MFASerial", where)
		}
		if u.MFASerial != "" && (len(u.MFASerial) < 9 || len(u.MFASerial) > 256) {
			return fmt.Errorf("%s: MFASerial must be 9 to 256 characters, as STS requires", where)
		}
		for _, code := range u.MFACodes {
			if !isSixDigits(code) {
				return fmt.Errorf("%s: MFACodes entries must be six digits", where)
			}
		}
		if u.TOTPSecret != "" {
			if _, err := decodeBase32(u.TOTPSecret); err != nil {
				return fmt.Errorf("%s: TOTPSecret is not base32: %w", where, err)
			}
		}
		names[u.Name] = true
		keys[u.AccessKeyID] = true
		if u.MFASerial != "" {
			serials[u.MFASerial] = true
		}
	}
	arns := map[string]bool{}
	for i, r := range c.Roles {
		where := fmt.Sprintf("ststest: Config.Roles[%d] (%q)", i, r.ARN)
		switch {
		case !roleARNRE.MatchString(r.ARN):
			return fmt.Errorf("%s: ARN must look like arn:aws:iam::123456789012:role/NAME", where)
		case arns[r.ARN]:
			return fmt.Errorf("%s: duplicate role ARN", where)
		case r.MaxSessionDuration != 0 && (r.MaxSessionDuration < stslimits.MinRoleMaxSessionDuration || r.MaxSessionDuration > stslimits.MaxRoleMaxSessionDuration):
			return fmt.Errorf("%s: MaxSessionDuration %v is outside 1h..12h", where, r.MaxSessionDuration)
		case r.MaxSessionDuration%time.Second != 0:
			return fmt.Errorf("%s: MaxSessionDuration must be whole seconds", where)
		case r.Lifetime < 0:
			return fmt.Errorf("%s: Lifetime is negative", where)
		case r.ExternalID != "" && !validExternalID(r.ExternalID):
			return fmt.Errorf("%s: ExternalID must match [\\w+=,.@:/-]{2,1224}", where)
		}
		for _, p := range r.Trust {
			if !validPrincipal(p) {
				return fmt.Errorf("%s: Trust entry %q is not a user ARN, role ARN, root ARN, account ID or oidc-provider ARN", where, p)
			}
		}
		arns[r.ARN] = true
	}
	tokens := map[string]bool{}
	for i, w := range c.WebIdentityTokens {
		// The token is a credential: errors name it by its index and
		// subject only.
		where := fmt.Sprintf("ststest: Config.WebIdentityTokens[%d] (subject %q)", i, w.Subject)
		switch {
		case len(w.Token) < 4 || len(w.Token) > 20000:
			return fmt.Errorf("%s: Token must be 4 to 20000 characters, as STS requires", where)
		case tokens[w.Token]:
			return fmt.Errorf("%s: duplicate Token", where)
		case strings.Contains(w.Provider, "://") || !providerRE.MatchString(w.Provider):
			return fmt.Errorf("%s: Provider %q must be the issuer URL without its scheme, such as token.actions.githubusercontent.com", where, w.Provider)
		case len(w.Subject) < 6 || len(w.Subject) > 255:
			return fmt.Errorf("%s: Subject must be 6 to 255 characters, as STS answers it", where)
		}
		tokens[w.Token] = true
	}
	return nil
}

func validPrincipal(p string) bool {
	return roleARNRE.MatchString(p) || userARNRE.MatchString(p) || rootARNRE.MatchString(p) || accountRE.MatchString(p) ||
		oidcARNRE.MatchString(p)
}

func isSixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func decodeBase32(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if n := len(s) % 8; n != 0 {
		s += strings.Repeat("=", 8-n)
	}
	return base32.StdEncoding.DecodeString(s)
}

// clone returns a deep copy of c.
func (c Config) clone() Config {
	out := c
	out.Users = make([]User, len(c.Users))
	for i, u := range c.Users {
		u.MFACodes = append([]string(nil), u.MFACodes...)
		out.Users[i] = u
	}
	out.Roles = make([]Role, len(c.Roles))
	for i, r := range c.Roles {
		r.Trust = append([]string(nil), r.Trust...)
		out.Roles[i] = r
	}
	out.WebIdentityTokens = append([]WebIdentityToken(nil), c.WebIdentityTokens...)
	return out
}

// ParseConfig decodes a JSON Config, as the ststest command reads it.
//
// Keys are the Go field names (AccountID, Users, Roles, Name, AccessKeyID,
// SecretAccessKey, MFASerial, MFACodes, TOTPSecret, ARN, Trust, RequireMFA,
// ExternalID, MaxSessionDuration, Lifetime, SessionTokenLifetime, Region,
// MaxCalls, WebIdentityTokens, Token, Provider, Subject, Audience,
// Expires); unknown keys are an error. A duration is either a Go duration
// string such as "10s" or "12h", or a plain integer number of seconds
// such as 3600; a time (Expires) is an RFC 3339 string such as
// "2030-01-02T15:04:05Z". The result is validated with [Config.Validate].
func ParseConfig(data []byte) (Config, error) {
	var jc jsonConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jc); err != nil {
		return Config{}, fmt.Errorf("ststest: parse config: %w", err)
	}
	cfg := Config{
		AccountID:            jc.AccountID,
		Users:                jc.Users,
		SessionTokenLifetime: time.Duration(jc.SessionTokenLifetime),
		Region:               jc.Region,
		MaxCalls:             jc.MaxCalls,
		WebIdentityTokens:    jc.WebIdentityTokens,
	}
	for _, r := range jc.Roles {
		cfg.Roles = append(cfg.Roles, Role{
			ARN:                r.ARN,
			Trust:              r.Trust,
			RequireMFA:         r.RequireMFA,
			ExternalID:         r.ExternalID,
			MaxSessionDuration: time.Duration(r.MaxSessionDuration),
			Lifetime:           time.Duration(r.Lifetime),
		})
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

type jsonConfig struct {
	AccountID            string
	Users                []User
	Roles                []jsonRole
	SessionTokenLifetime jsonDuration
	Region               string
	MaxCalls             int
	WebIdentityTokens    []WebIdentityToken
}

type jsonRole struct {
	ARN                string
	Trust              []string
	RequireMFA         bool
	ExternalID         string
	MaxSessionDuration jsonDuration
	Lifetime           jsonDuration
}

// jsonDuration is a time.Duration written as "10s" or as integer seconds.
type jsonDuration time.Duration

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = jsonDuration(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("duration %s: want a string such as \"10s\" or integer seconds", b)
	}
	*d = jsonDuration(time.Duration(n) * time.Second)
	return nil
}

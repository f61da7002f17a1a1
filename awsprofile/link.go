package awsprofile

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/internal/redact"
)

// LinkKind says what makes a [Link].
type LinkKind string

// The kinds of link. The three credential_source kinds are spelled as the
// key's values; they also name the root of the SDK's default chain when no
// profile holds credentials (keys in the environment, the container's
// credentials, the instance's).
const (
	// KindStatic is a profile's aws_access_key_id and aws_secret_access_key
	// (and aws_session_token), from one file.
	KindStatic LinkKind = "static"
	// KindEnvironment is credential_source = Environment, or no profile
	// credentials: the keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
	// (and AWS_SESSION_TOKEN).
	KindEnvironment LinkKind = "Environment"
	// KindEc2InstanceMetadata is credential_source = Ec2InstanceMetadata,
	// or no credentials anywhere else: the instance's role.
	KindEc2InstanceMetadata LinkKind = "Ec2InstanceMetadata"
	// KindEcsContainer is credential_source = EcsContainer, or no
	// credentials anywhere else while the environment names the
	// container's (ECS, EKS Pod Identity).
	KindEcsContainer LinkKind = "EcsContainer"
	// KindWebIdentity is web_identity_token_file + role_arn, or
	// AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN:
	// AssumeRoleWithWebIdentity.
	KindWebIdentity LinkKind = "AssumeRoleWithWebIdentity"
	// KindSSO is sso_session, or the legacy sso_* keys: IAM Identity
	// Center's role credentials.
	KindSSO LinkKind = "SSO"
	// KindLogin is login_session: the session of aws login.
	KindLogin LinkKind = "login_session"
	// KindProcess is credential_process.
	KindProcess LinkKind = "credential_process"
	// KindKeyring is a profile's long-term keys from [Options.Keys], kept
	// outside the files (in an OS keyring, say).
	KindKeyring LinkKind = "keyring"
	// KindSDK is not made by LoadChain any more, which names the root of
	// the SDK's default chain by what it is (KindEnvironment,
	// KindWebIdentity, KindEcsContainer, KindEc2InstanceMetadata). It is
	// kept so that code naming it compiles.
	KindSDK LinkKind = "SDK"
	// KindSessionToken is the GetSessionToken link of
	// Options.SessionDuration.
	KindSessionToken LinkKind = "GetSessionToken"
	// KindAssumeRole is a role_arn assumed from the link below.
	KindAssumeRole LinkKind = "AssumeRole"
)

// Link is one link of a [Chain]. No fmt verb, log/slog handler or
// encoding/json shows its Provider, which may hold a secret key: Format,
// LogValue and MarshalJSON show Kind, Profile, RoleARN and SerialNumber
// only.
type Link struct {
	// Kind says what makes the link.
	Kind LinkKind
	// Profile is the profile whose settings make the link; empty for a
	// root taken from the environment, the container or the instance
	// without a profile naming it.
	Profile string
	// RoleARN is the role of a KindAssumeRole or KindWebIdentity link.
	RoleARN string
	// SerialNumber is the MFA device whose codes the link sends.
	SerialNumber string
	// Provider makes the link's credentials: a *stschain.ChainableProvider
	// for KindAssumeRole and KindSessionToken, Options.Keys's provider in
	// an aws.CredentialsCache for KindKeyring, the SDK's provider (in an
	// aws.CredentialsCache where the SDK puts it in one) otherwise.
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

// Format prints String for every verb (%v, %+v, %#v, %d, %x, %t ...), %q
// quoting it, so that no verb prints the Provider's fields.
func (l Link) Format(f fmt.State, verb rune) { redact.Format(f, verb, l.String()) }

// LogValue is the link's Kind, Profile, RoleARN and SerialNumber, without
// its Provider.
func (l Link) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", string(l.Kind))}
	for _, a := range []struct{ k, v string }{{"profile", l.Profile}, {"role_arn", l.RoleARN}, {"serial_number", l.SerialNumber}} {
		if a.v != "" {
			attrs = append(attrs, slog.String(a.k, a.v))
		}
	}
	return slog.GroupValue(attrs...)
}

// linkJSON is the JSON of a Link.
type linkJSON struct {
	Kind         LinkKind
	Profile      string `json:",omitempty"`
	RoleARN      string `json:",omitempty"`
	SerialNumber string `json:",omitempty"`
}

// MarshalJSON encodes Kind, Profile, RoleARN and SerialNumber, without the
// Provider.
func (l Link) MarshalJSON() ([]byte, error) {
	return json.Marshal(linkJSON{Kind: l.Kind, Profile: l.Profile, RoleARN: l.RoleARN, SerialNumber: l.SerialNumber})
}

// LongTermKeys reports whether the link hands out an IAM user's long-term
// keys (an access key without a session token), the only credentials
// GetSessionToken accepts. Static keys and keys of the environment are
// known from the files and the environment; a credential_process root is
// retrieved to find out, since only its output says. Keys from
// Options.Keys are long-term by its contract, and are not retrieved (a
// keyring may ask for a passphrase). Every other kind hands out sessions.
func (l Link) LongTermKeys(ctx context.Context) (bool, error) {
	switch l.Kind {
	case KindKeyring:
		return true, nil
	case KindStatic, KindEnvironment, KindProcess:
	default:
		return false, nil
	}
	c, err := l.Provider.Retrieve(ctx)
	if err != nil {
		return false, err
	}
	return c.SessionToken == "", nil
}

// Chain is what a profile's settings make, as [LoadChain] returns it. No
// fmt verb, log/slog handler or encoding/json shows its Config or its
// links' providers: Format, LogValue and MarshalJSON show the profile and
// the links only.
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

	codes map[string]stschain.TokenCodeFunc // by serial: what gives the codes of the profiles' devices
}

// TokenCode returns what gives the MFA codes of device serial, the
// mfa_serial of a profile of the chain (its roles', or that of the
// profile holding its root's credentials, as aws-vault keeps it there):
// Options.TokenCode when set, else the mfa_process of the lowest profile
// with that mfa_serial, else [stschain.PromptTokenCode]. It returns nil for
// a device no profile of the chain names. A link put on top of the chain
// with the same device uses it, so that its codes come from where the
// profile says.
func (c *Chain) TokenCode(serial string) stschain.TokenCodeFunc {
	return c.codes[serial]
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

// Format prints String for every verb, %q quoting it, so that no verb
// prints the Config or a provider.
func (c Chain) Format(f fmt.State, verb rune) { redact.Format(f, verb, c.String()) }

// LogValue is the chain's profile and links, without the Config or any
// provider.
func (c Chain) LogValue() slog.Value {
	links := make([]any, len(c.Links))
	for i, l := range c.Links {
		links[i] = l.String()
	}
	return slog.GroupValue(slog.String("profile", c.Profile), slog.Any("links", links))
}

// MarshalJSON encodes the profile, the region and the links, without the
// Config's credentials or any provider.
func (c Chain) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Profile string `json:",omitempty"`
		Region  string `json:",omitempty"`
		Links   []Link
	}{c.Profile, c.Config.Region, c.Links})
}

package awsprofile

import (
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/config"
)

// plan is the chain a profile describes, read from the SDK's SharedConfig
// by botocore's rules, before any provider is built.
type plan struct {
	root  rootPlan
	roles []*config.SharedConfig // the profiles whose role_arn is assumed, bottom first
	path  []string               // the profiles followed, from the selected one
}

// rootPlan is the bottom of a chain: credentials that need no role of the
// chain.
type rootPlan struct {
	kind LinkKind
	sc   *config.SharedConfig // the profile holding them
}

// credentialSources are the valid values of credential_source.
var credentialSources = []LinkKind{KindEnvironment, KindEc2InstanceMetadata, KindEcsContainer}

// resolvePlan follows top's source profiles in the tree the SDK's loader
// built, by the rules of botocore's AssumeRoleProvider (credentials.py):
//
//   - A profile with role_arn (and no web_identity_token_file) is a role
//     link, whose source is source_profile or credential_source: exactly one
//     of them.
//   - A source profile with static keys ends the chain with its own
//     credentials, whatever role it names (_resolve_credentials_from_profile);
//     the selected profile's role_arn + source_profile win over its keys.
//   - A profile met again is a loop, except a profile that is its own
//     source_profile and holds static keys (_validate_source_profile).
//   - A profile without role_arn ends the chain with its own credentials:
//     web identity, SSO, static keys or credential_process.
//
// The SDK differs from botocore in places, and botocore is followed: a
// loop through a profile with credentials, a self-reference without static
// keys, and role_arn without a source are errors here, where the SDK builds
// a chain; a source profile with static keys and role_arn ends the chain
// here, where the SDK also assumes that profile's role with its keys.
func resolvePlan(top *config.SharedConfig) (plan, error) {
	var p plan
	cur := top
	p.path = []string{top.Profile}
	fail := func(sc *config.SharedConfig, format string, args ...any) (plan, error) {
		e := &ConfigError{Profile: sc.Profile, Problem: fmt.Sprintf(format, args...)}
		if len(p.path) > 1 {
			e.Chain = slices.Clone(p.path)
		}
		return plan{}, e
	}
	for {
		isTop := cur == top
		if !isTop && cur.Credentials.HasKeys() {
			p.root, _ = ownCredentials(cur)
			break
		}
		if cur.RoleARN == "" || cur.WebIdentityTokenFile != "" {
			root, ok := ownCredentials(cur)
			if !ok && !isTop {
				return fail(cur, "%s", noCredentials)
			}
			p.root = root
			break
		}
		switch {
		case cur.SourceProfileName != "" && cur.CredentialSource != "":
			return fail(cur, "role_arn has both source_profile %q and credential_source %q: want exactly one", cur.SourceProfileName, cur.CredentialSource)
		case cur.CredentialSource != "":
			kind := LinkKind(cur.CredentialSource)
			if !slices.Contains(credentialSources, kind) {
				return fail(cur, "credential_source %q is not valid: want Environment, Ec2InstanceMetadata or EcsContainer", cur.CredentialSource)
			}
			if cur.Credentials.HasKeys() {
				// botocore ignores the keys; the SDK uses them instead of
				// the source. Refuse rather than guess.
				return fail(cur, "credential_source %s together with aws_access_key_id: botocore would use the source and the SDK the keys; remove one", cur.CredentialSource)
			}
			p.roles = append(p.roles, cur)
			p.root = rootPlan{kind: kind, sc: cur}
		case cur.SourceProfileName != "":
			src := cur.SourceProfileName
			if slices.Contains(p.path, src) {
				// Only a profile that is its own source and holds static
				// keys may be met again: the SDK's tree then holds its
				// second reading, with the keys and no role.
				self := src == cur.Profile && cur.Source != nil && cur.Source.Credentials.HasKeys()
				if !self {
					p.path = append(p.path, src)
					return fail(cur, "%s", loopProblem(cur.Profile, src))
				}
			}
			if cur.Source == nil {
				return fail(cur, "source_profile %q has no credentials", src)
			}
			p.roles = append(p.roles, cur)
			if src != cur.Profile {
				p.path = append(p.path, src)
			}
			cur = cur.Source
			continue
		default:
			return fail(cur, "role_arn %s has neither source_profile nor credential_source: want exactly one of them", cur.RoleARN)
		}
		break
	}
	slices.Reverse(p.roles)
	return p, nil
}

// ownCredentials returns the credentials a profile holds without a role
// link of its own. ok is false when it holds none. Web identity comes
// first, as in botocore's ProfileProviderBuilder; then static keys, SSO and
// credential_process in the SDK's order (botocore puts SSO before static
// keys, and static keys of the config file after credential_process: the
// SDK's order is kept there, as these roots are the SDK's providers).
func ownCredentials(sc *config.SharedConfig) (root rootPlan, ok bool) {
	root.sc = sc
	switch {
	case sc.WebIdentityTokenFile != "":
		root.kind = KindWebIdentity
	case sc.Credentials.HasKeys():
		root.kind = KindStatic
	case sc.SSOSessionName != "" || sc.SSOStartURL != "" || sc.SSOAccountID != "" || sc.SSORoleName != "" || sc.SSORegion != "":
		root.kind = KindSSO
	case sc.CredentialProcess != "":
		root.kind = KindProcess
	default:
		return rootPlan{kind: KindSDK, sc: sc}, false
	}
	return root, true
}

const noCredentials = "the source profile has no credentials: want aws_access_key_id and aws_secret_access_key, role_arn with source_profile or credential_source, web_identity_token_file + role_arn, SSO settings or credential_process"

// loopProblem says why profile's source_profile src, met before, is wrong.
func loopProblem(profile, src string) string {
	if src == profile {
		return fmt.Sprintf("source_profile %q is the profile itself, which holds no static keys: a profile may be its own source only to assume its role with its own keys", src)
	}
	return fmt.Sprintf("source_profile %q makes a loop", src)
}

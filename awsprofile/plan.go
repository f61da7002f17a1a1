package awsprofile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// plan is the chain a profile describes, read from the files by botocore's
// rules, before any provider is built.
type plan struct {
	profile string // the selected profile
	root    rootPlan
	roles   []rolePlan // the roles assumed, bottom first
}

// rootPlan is the bottom of a chain: credentials that need no role of the
// chain.
type rootPlan struct {
	kind    LinkKind
	profile string // the profile holding them; "" for the environment's

	keys    aws.Credentials         // KindStatic, KindEnvironment
	keyring aws.CredentialsProvider // KindKeyring: Options.Keys's

	roleARN, tokenFile, sessionName string // KindWebIdentity

	sso     ssoPlan // KindSSO
	process string  // KindProcess: the command
	login   string  // KindLogin: the login_session
}

// ssoPlan is an SSO profile's settings, with those of its sso-session.
type ssoPlan struct {
	session, startURL, region, accountID, roleName string
}

// rolePlan is one role_arn of the chain.
type rolePlan struct {
	profile                                  string
	roleARN, sessionName, externalID, serial string
	duration                                 time.Duration // zero: STS's default
	vault                                    vaultKeys
}

// resolver follows a profile's chain through the files by the rules of
// botocore's credential providers (credentials.py): the default chain
// (create_credential_resolver), AssumeRoleProvider for role_arn, and
// ProfileProviderBuilder for a profile's own credentials.
type resolver struct {
	files *sharedFiles
	env   config.EnvConfig
	keys  KeysFunc // Options.Keys; nil for none
	path  []string // the profiles followed through source_profile, from the selected one
}

// resolvePlan returns the plan of the selected profile. explicit says it
// was named by the caller, not taken from AWS_PROFILE or "default": as for
// the AWS CLI's --profile, the keys and web identity of the environment
// then play no part.
func resolvePlan(ctx context.Context, files *sharedFiles, env config.EnvConfig, selected string, explicit, fromEnv bool, keys KeysFunc) (plan, error) {
	r := &resolver{files: files, env: env, keys: keys, path: []string{selected}}
	p := plan{profile: selected}
	prof := files.profiles[selected]
	if prof == nil && (explicit || fromEnv) {
		// botocore and the SDK: a profile asked for must exist, even
		// where the environment's keys would win.
		return plan{}, &ConfigError{Profile: selected, Problem: "the profile is in none of the files", notFound: true,
			Err: config.SharedConfigProfileNotExistError{Profile: selected}}
	}
	if !explicit {
		// The SDK's default chain: keys in the environment, then a web
		// identity in the environment, then the profile (botocore puts
		// the profile's role_arn before the web identity).
		switch {
		case env.Credentials.HasKeys():
			p.root = rootPlan{kind: KindEnvironment, keys: env.Credentials}
			return p, nil
		case env.WebIdentityTokenFilePath != "":
			if env.RoleARN == "" {
				return plan{}, &ConfigError{Profile: selected, Problem: "AWS_WEB_IDENTITY_TOKEN_FILE is set without AWS_ROLE_ARN: want both"}
			}
			p.root = rootPlan{kind: KindWebIdentity, roleARN: env.RoleARN, tokenFile: env.WebIdentityTokenFilePath, sessionName: env.RoleSessionName}
			return p, nil
		}
	}
	if prof == nil {
		p.root = r.defaultTail()
		return p, nil
	}
	if prof.has("role_arn") && !prof.has("web_identity_token_file") {
		root, roles, err := r.assumeRole(ctx, prof)
		if err != nil {
			return plan{}, err
		}
		p.root, p.roles = root, roles
		return p, nil
	}
	root, ok, err := r.own(ctx, prof)
	switch {
	case err != nil:
		return plan{}, err
	case !ok:
		if err := r.stray(prof); err != nil {
			return plan{}, err
		}
		root = r.defaultTail()
	}
	p.root = root
	return p, nil
}

// defaultTail is the end of the default chain, where no profile holds
// credentials: the container's credentials when the environment names
// them, else the instance's.
func (r *resolver) defaultTail() rootPlan {
	if r.env.ContainerCredentialsRelativePath != "" || r.env.ContainerCredentialsEndpoint != "" {
		return rootPlan{kind: KindEcsContainer}
	}
	return rootPlan{kind: KindEc2InstanceMetadata}
}

// fail is a ConfigError about profile, with the path followed to it.
func (r *resolver) fail(profile, format string, args ...any) *ConfigError {
	e := &ConfigError{Profile: profile, Problem: fmt.Sprintf(format, args...)}
	if len(r.path) > 1 {
		e.Chain = slices.Clone(r.path)
	}
	return e
}

// assumeRole is botocore's AssumeRoleProvider._load_creds_via_assume_role
// for profile p, which has role_arn: the root and the roles below p, then
// p's role.
//
// With Options.Keys, a profile whose role has no source in the files (no
// source_profile, no credential_source, or itself as source_profile
// without static keys) is assumed with the profile's own keys from Keys
// when Keys has them, as aws-vault does.
func (r *resolver) assumeRole(ctx context.Context, p *fileProfile) (rootPlan, []rolePlan, error) {
	role, err := r.rolePlan(p)
	if err != nil {
		return rootPlan{}, nil, err
	}
	src, hasSrc := p.get("source_profile")
	cs, hasCS := p.get("credential_source")
	switch {
	case hasSrc && hasCS:
		return rootPlan{}, nil, r.fail(p.name, "source_profile and credential_source are set together: want exactly one of them with role_arn")
	case hasCS:
		kind := LinkKind(cs)
		if !slices.Contains(credentialSources, kind) {
			return rootPlan{}, nil, r.fail(p.name, "credential_source %q is not valid: want Environment, Ec2InstanceMetadata or EcsContainer", cs)
		}
		// botocore uses the source, whatever static keys the profile
		// also holds.
		root := rootPlan{kind: kind, profile: p.name}
		if kind == KindEnvironment {
			if !r.env.Credentials.HasKeys() {
				return rootPlan{}, nil, r.fail(p.name, "credential_source is Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set")
			}
			root.keys = r.env.Credentials
		}
		if kind == KindEcsContainer && r.env.ContainerCredentialsRelativePath == "" && r.env.ContainerCredentialsEndpoint == "" {
			return rootPlan{}, nil, r.fail(p.name, "credential_source is EcsContainer, but neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set")
		}
		return root, []rolePlan{role}, nil
	case !hasSrc:
		switch root, ok, err := r.keyring(ctx, p.name); {
		case err != nil:
			return rootPlan{}, nil, err
		case ok:
			return root, []rolePlan{role}, nil
		}
		return rootPlan{}, nil, r.fail(p.name, "role_arn %s has neither source_profile nor credential_source: want exactly one of them%s", role.roleARN, r.keysHint(" (or the profile's keys in the keyring)"))
	}

	sp := r.files.profiles[src]
	if sp == nil {
		r.path = append(r.path, src)
		e := r.fail(src, "source_profile %q of profile %q is in none of the files", src, p.name)
		e.notFound = true
		e.Err = config.SharedConfigProfileNotExistError{Profile: src}
		return rootPlan{}, nil, e
	}
	if slices.Contains(r.path, src) && !(src == p.name && hasStaticKeys(sp)) {
		// Only a profile that is its own source and holds static keys
		// may be met again (_validate_source_profile), or keys from
		// Options.Keys.
		if src == p.name {
			switch root, ok, err := r.keyring(ctx, p.name); {
			case err != nil:
				return rootPlan{}, nil, err
			case ok:
				return root, []rolePlan{role}, nil
			}
		}
		r.path = append(r.path, src)
		return rootPlan{}, nil, r.fail(p.name, "%s", loopProblem(p.name, src))
	}
	if src != p.name {
		r.path = append(r.path, src)
	}
	// _resolve_credentials_from_profile: a source profile with static
	// keys, or without a role of its own, ends the chain with its own
	// credentials; otherwise its role is assumed in turn.
	if hasStaticKeys(sp) || !sp.has("role_arn") || sp.has("web_identity_token_file") {
		root, ok, err := r.own(ctx, sp)
		switch {
		case err != nil:
			return rootPlan{}, nil, err
		case !ok:
			return rootPlan{}, nil, r.fail(src, "%s%s", noCredentials, r.keysHint(", or keys in the keyring"))
		}
		return root, []rolePlan{role}, nil
	}
	root, roles, err := r.assumeRole(ctx, sp)
	if err != nil {
		return rootPlan{}, nil, err
	}
	return root, append(roles, role), nil
}

// credentialSources are the valid values of credential_source.
var credentialSources = []LinkKind{KindEnvironment, KindEc2InstanceMetadata, KindEcsContainer}

// hasStaticKeys is botocore's _has_static_credentials: either key, in
// either file.
func hasStaticKeys(p *fileProfile) bool {
	return p.has("aws_access_key_id") || p.has("aws_secret_access_key")
}

// own returns the credentials profile p holds without a role link of its
// own, in the order of botocore's ProfileProviderBuilder: web identity,
// SSO, the keys of the credentials file, login_session,
// credential_process, the keys of the config file; then the keys
// Options.Keys has for it. ok is false when it holds none.
func (r *resolver) own(ctx context.Context, p *fileProfile) (root rootPlan, ok bool, err error) {
	root.profile = p.name
	if file, ok := p.get("web_identity_token_file"); ok {
		arn, ok := p.get("role_arn")
		if !ok {
			return rootPlan{}, false, r.fail(p.name, "web_identity_token_file needs role_arn")
		}
		root.kind, root.roleARN, root.tokenFile = KindWebIdentity, arn, file
		root.sessionName, _ = p.get("role_session_name")
		return root, true, nil
	}
	if p.has("sso_account_id") || p.has("sso_role_name") {
		s, err := r.ssoPlan(p)
		if err != nil {
			return rootPlan{}, false, err
		}
		root.kind, root.sso = KindSSO, s
		return root, true, nil
	}
	if keys, ok, err := r.staticKeys(p, p.creds, "credentials"); err != nil || ok {
		root.kind, root.keys = KindStatic, keys
		return root, ok, err
	}
	if s, ok := p.get("login_session"); ok {
		root.kind, root.login = KindLogin, s
		return root, true, nil
	}
	if cmd, ok := p.get("credential_process"); ok {
		root.kind, root.process = KindProcess, cmd
		return root, true, nil
	}
	if keys, ok, err := r.staticKeys(p, p.config, "config"); err != nil || ok {
		root.kind, root.keys = KindStatic, keys
		return root, ok, err
	}
	return r.keyring(ctx, p.name)
}

// keyring returns the root of the keys Options.Keys has for profile; ok is
// false when it has none. Its error is not a ConfigError: the files are
// right, the keyring failed.
func (r *resolver) keyring(ctx context.Context, profile string) (root rootPlan, ok bool, err error) {
	if r.keys == nil {
		return rootPlan{}, false, nil
	}
	p, err := r.keys(ctx, profile)
	if err != nil {
		return rootPlan{}, false, fmt.Errorf("awsprofile: profile %s: looking for its keys outside the files: %w", strconv.Quote(profile), err)
	}
	if p == nil {
		return rootPlan{}, false, nil
	}
	return rootPlan{kind: KindKeyring, profile: profile, keyring: p}, true, nil
}

// keysHint is hint when Options.Keys is set, "" otherwise.
func (r *resolver) keysHint(hint string) string {
	if r.keys == nil {
		return ""
	}
	return hint
}

// staticKeys returns the keys one file holds for p, with their session
// token from the same file (aws_security_token, botocore's legacy name,
// before aws_session_token). ok is false when the file has no access key
// ID for p.
func (r *resolver) staticKeys(p *fileProfile, keys map[string]fileValue, file string) (aws.Credentials, bool, error) {
	get := func(k string) string { return keys[k].value }
	id, secret := get("aws_access_key_id"), get("aws_secret_access_key")
	switch {
	case id == "" && secret != "" && !p.has("aws_access_key_id"):
		return aws.Credentials{}, false, r.fail(p.name, "aws_secret_access_key is set without aws_access_key_id: want both or neither")
	case id == "":
		return aws.Credentials{}, false, nil
	case secret == "":
		return aws.Credentials{}, false, r.fail(p.name, "aws_access_key_id is set without aws_secret_access_key in the %s file: want both there, or neither", file)
	}
	c := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: cmpOr(get("aws_security_token"), get("aws_session_token")),
		AccountID: get("aws_account_id"), Source: "SharedConfigCredentials"}
	if f := keys["aws_access_key_id"].file; f != "" {
		c.Source = "SharedConfigCredentials: " + f
	}
	return c, true, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ssoPlan reads an SSO profile as botocore's SSOProvider does: with
// sso_session, the sso-session section's keys, which must agree with the
// profile's; without, the legacy keys. All four settings are required.
func (r *resolver) ssoPlan(p *fileProfile) (ssoPlan, error) {
	get := func(k string) string { v, _ := p.get(k); return v }
	s := ssoPlan{session: get("sso_session"), startURL: get("sso_start_url"), region: get("sso_region"),
		accountID: get("sso_account_id"), roleName: get("sso_role_name")}
	if s.session != "" {
		sec, ok := r.files.ssoSessions[s.session]
		if !ok {
			return ssoPlan{}, r.fail(p.name, "sso_session %q names no [sso-session %s] section", s.session, s.session)
		}
		for _, k := range slices.Sorted(maps.Keys(sec)) {
			if v, ok := p.get(k); ok && v != sec[k] {
				return ssoPlan{}, r.fail(p.name, "%s is %q in the profile but %q in [sso-session %s]: want one value", k, v, sec[k], s.session)
			}
		}
		s.startURL, s.region = cmpOr(sec["sso_start_url"], s.startURL), cmpOr(sec["sso_region"], s.region)
	}
	var missing []string
	for _, f := range []struct{ key, v string }{{"sso_role_name", s.roleName}, {"sso_account_id", s.accountID}, {"sso_start_url", s.startURL}, {"sso_region", s.region}} {
		if f.v == "" {
			missing = append(missing, f.key)
		}
	}
	if len(missing) > 0 {
		return ssoPlan{}, r.fail(p.name, "the profile is set up for SSO but lacks %s", strings.Join(missing, ", "))
	}
	return s, nil
}

// rolePlan reads the settings of p's role link.
func (r *resolver) rolePlan(p *fileProfile) (rolePlan, error) {
	get := func(k string) string { v, _ := p.get(k); return v }
	role := rolePlan{profile: p.name, roleARN: get("role_arn"), sessionName: get("role_session_name"),
		externalID: get("external_id"), serial: get("mfa_serial")}
	if d, ok := p.get("duration_seconds"); ok {
		// botocore ignores a value that is not an integer; one that is
		// is sent as written (the SDK drops 900).
		if n, err := strconv.Atoi(d); err == nil {
			role.duration = time.Duration(n) * time.Second
		}
	}
	v, err := vault(p)
	if err != nil {
		return rolePlan{}, r.fail(p.name, "%s", err)
	}
	role.vault = v
	return role, nil
}

// stray refuses the keys botocore ignores on a profile without role_arn
// but which only make sense with one, so that a forgotten role_arn is not
// silently replaced by the instance's credentials.
func (r *resolver) stray(p *fileProfile) error {
	for _, k := range []string{"source_profile", "credential_source"} {
		if p.has(k) {
			return r.fail(p.name, "%s needs role_arn", k)
		}
	}
	return nil
}

const noCredentials = "the source profile has no credentials: want aws_access_key_id and aws_secret_access_key, role_arn with source_profile or credential_source, web_identity_token_file + role_arn, SSO settings, login_session or credential_process"

// loopProblem says why profile's source_profile src, met before, is wrong.
func loopProblem(profile, src string) string {
	if src == profile {
		return fmt.Sprintf("source_profile %q is the profile itself, which holds no static keys: a profile may be its own source only to assume its role with its own keys", src)
	}
	return fmt.Sprintf("source_profile %q makes a loop", src)
}

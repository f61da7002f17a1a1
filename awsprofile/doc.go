// Package awsprofile builds stschain chains from the AWS config files: the
// profiles with role_arn, source_profile and mfa_serial that users already
// keep in ~/.aws/config.
//
//	cfg, err := awsprofile.LoadConfig(ctx, "prod-admin")
//	if err != nil { ... }
//	client := s3.NewFromConfig(cfg)
//
// [LoadConfig] returns the aws.Config that config.LoadDefaultConfig returns
// for the profile, with one difference: every role of the profile's chain
// is a [stschain.ChainableProvider] of its own, which refreshes in the
// background on its own schedule, so a refresh of the top role re-assumes
// no inner role that is not itself due, and no caller waits for STS. The
// SDK's own profile chain re-assumes every inner role on every refresh of
// the top one, while its callers wait, and sends those calls to the
// default STS endpoint unless AWS_ENDPOINT_URL_STS or a services section
// names another (it builds them before it reads AWS_ENDPOINT_URL and
// endpoint_url). MFA works (the SDK's loader refuses mfa_serial unless
// given a token provider), and the sessions can be cached across processes
// and shared with the AWS CLI.
//
// # Chains
//
// The files are read by the SDK's shared-config parser, and the chain
// follows the rules of botocore, the AWS CLI's engine:
//
//   - role_arn + source_profile: the role is assumed with the source
//     profile's credentials; sources chain to any depth.
//   - Static keys (aws_access_key_id + aws_secret_access_key, optional
//     aws_session_token) end the chain when a profile is reached as a
//     source, even if it also has role_arn + source_profile. On the
//     selected profile itself, role_arn + source_profile win over its keys.
//   - A profile that is its own source_profile uses its static keys to
//     assume its own role.
//   - credential_source = Environment, Ec2InstanceMetadata or EcsContainer:
//     the SDK's provider for that source is the root.
//   - web_identity_token_file + role_arn (and role_session_name):
//     AssumeRoleWithWebIdentity is the root, and may be the source of more
//     roles.
//   - credential_process, and SSO (sso_session or the legacy sso_* keys):
//     the SDK's providers are the root.
//   - On every role link, external_id, role_session_name, duration_seconds
//     and mfa_serial (with [Options.TokenCode]) reach AssumeRole; so do
//     aws-vault's source_identity, session_tags and
//     transitive_session_tags where present. The selected profile's region
//     is the config's region, and every STS call of the chain (the roots'
//     included) goes to the endpoint the config resolves: AWS_ENDPOINT_URL,
//     AWS_ENDPOINT_URL_STS, endpoint_url or a services section.
//
// Where botocore and the SDK disagree, botocore is followed: a loop
// through profiles that hold credentials, a profile naming itself as
// source_profile without static keys, and role_arn without source_profile
// or credential_source are errors; a source profile with static keys and
// role_arn ends the chain with its keys (the SDK also assumes its role);
// duration_seconds is sent as written (the SDK drops 900). One difference
// is kept: of a profile's own credentials, static keys come before SSO and
// credential_process, in the SDK's order, whose providers these roots are
// (botocore tries SSO before the keys of the credentials file, and
// credential_process before the keys of the config file).
//
// # Errors
//
// A wrong configuration is a *[ConfigError] naming the profile at fault and
// the profiles followed to it, returned before any STS call: a loop, a
// missing source profile, source_profile together with credential_source,
// role_arn with neither, one static key without the other, an unknown
// credential_source, no such profile, or a value a link refuses. It matches
// [ErrInvalidConfig], and [ErrProfileNotFound] for a missing profile.
//
// # One MFA prompt a day
//
// With [Options.SessionDuration] set, a chain whose root is long-term keys
// and one of whose roles has mfa_serial gets a GetSessionToken link of that
// length, with MFA, on its root; the roles above are assumed from that
// session without MFA. With [Options.Cache] set to a [stschain.FileCache],
// the session survives restarts: one prompt per SessionDuration.
//
// # aws-vault's keys
//
// The SDK's SharedConfig does not expose source_identity, session_tags,
// transitive_session_tags and mfa_process, so those keys are read from the
// same files by the package's own reader (as aws-vault reads them). mfa_process is
// run with [stschain.ProcessTokenCode] for the codes of its profile's link.
package awsprofile

//go:build unix

package awsprofile_test

import "strings"

// The sources of the cases: the tests of botocore (the AWS CLI's engine)
// and of aws-sdk-go-v2's config module whose profile setups they take.
// Keys, account IDs and role names are replaced by the fake STS's; roles
// are {{role:NAME}} (a role whose name starts with MFA requires MFA, with
// Ext the external ID ext-123).
const (
	botoUnit   = "botocore tests/unit/test_credentials.py "
	botoFunc   = "botocore tests/functional/test_credentials.py "
	botoLoader = "botocore tests/unit/test_configloader.py "
	sdkResolve = "aws-sdk-go-v2 config/resolve_credentials_test.go "
	sdkShared  = "aws-sdk-go-v2 config/shared_config_test.go "
	sdkAssume  = "aws-sdk-go-v2 config/resolve_assume_role_test.go "
	sdkProcess = "aws-sdk-go-v2 config/resolve_processcreds_test.go "
	sdkWeb     = "aws-sdk-go-v2 config/resolve_web_identity_test.go "
)

// env is a shorthand for a case's environment.
func envOf(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var (
	envBob       = envOf("AWS_ACCESS_KEY_ID", "AKIABOBEXAMPLE000001", "AWS_SECRET_ACCESS_KEY", "bobSecretKey00")
	envECS       = envOf("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{{ecs}}", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-token")
	envIMDS      = envOf("AWS_EC2_METADATA_DISABLED", "", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "{{imds}}")
	envWebToken  = envOf("AWS_WEB_IDENTITY_TOKEN_FILE", "{{token}}", "AWS_ROLE_ARN", "{{role:RoleWeb}}")
	envProfileOf = func(p string) map[string]string { return envOf("AWS_PROFILE", p) }
)

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// differentialCases are the cases of TestSameCallsAsTheAWSCLI: the
// distinct setups of the peers' tests, then the core ones again with the
// endpoint given each other way the config can give it.
func differentialCases() []diffCase {
	cases := baseCases()
	for _, c := range endpointCases() {
		cases = append(cases, endpointVariants(c)...)
	}
	return cases
}

func baseCases() []diffCase {
	return []diffCase{
		// botocore's functional tests of AssumeRoleProvider.
		{from: botoFunc + "TestAssumeRole.test_assume_role", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n\n[profile B]\n{{alice}}\n"},
		{from: botoFunc + "TestAssumeRole.test_environment_credential_source", profile: "A", env: envBob,
			config: "[profile A]\nrole_arn = {{role:RoleA}}\ncredential_source = Environment\n"},
		{from: botoFunc + "TestAssumeRole.test_instance_metadata_credential_source", profile: "A", env: envIMDS,
			config: "[profile A]\nrole_arn = {{role:RoleA}}\ncredential_source = Ec2InstanceMetadata\n"},
		{from: botoFunc + "TestAssumeRole.test_container_credential_source", profile: "A", env: envECS,
			config: "[profile A]\nrole_arn = {{role:RoleA}}\ncredential_source = EcsContainer\n"},
		{from: botoFunc + "TestAssumeRole.test_invalid_credential_source", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\ncredential_source = CustomInvalidProvider\n"},
		{from: botoFunc + "TestAssumeRole.test_misconfigured_source_profile", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n[profile B]\nregion = us-west-2\n"},
		{from: botoFunc + "TestAssumeRole.test_recursive_assume_role", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n\n[profile B]\nrole_arn = {{role:RoleB}}\nsource_profile = C\n\n[profile C]\n{{alice}}\n"},
		{from: botoFunc + "TestAssumeRole.test_recursive_assume_role_stops_at_static_creds", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n\n[profile B]\n{{bob}}\nrole_arn = {{role:RoleB}}\nsource_profile = C\n\n[profile C]\n{{alice}}\n"},
		{from: botoFunc + "TestAssumeRole.test_infinitely_recursive_assume_role", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = A\n"},
		{from: botoFunc + "TestAssumeRole.test_process_source_profile", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n[profile B]\ncredential_process = {{process:long}}\n"},
		{from: botoFunc + "TestAssumeRole.test_web_identity_source_profile", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n[profile B]\nrole_arn = {{role:RoleB}}\nweb_identity_token_file = {{token}}\n"},
		{from: botoFunc + "TestAssumeRole.test_web_identity_source_profile_ignores_env_vars", profile: "A", env: envOf("AWS_ROLE_ARN", "{{role:RoleB}}"),
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n[profile B]\nweb_identity_token_file = {{token}}\n"},
		{from: botoFunc + "TestAssumeRole.test_sso_source_profile_legacy", profile: "A", sso: "legacy",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n[profile B]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\nsso_role_name = SSORole\nsso_account_id = {{account}}\n"},
		{from: botoFunc + "TestAssumeRole.test_sso_source_profile", profile: "A", sso: "C",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n[profile B]\nsso_session = C\nsso_role_name = SSORole\nsso_account_id = {{account}}\n[sso-session C]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\n"},
		{from: botoFunc + "TestAssumeRole.test_web_identity_credential_source_ignores_env_vars", profile: "A", env: merge(envWebToken, envBob),
			config: "[profile A]\nrole_arn = {{role:RoleA}}\ncredential_source = Environment\n"},
		{from: botoFunc + "TestAssumeRole.test_self_referential_profile", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = A\n{{alice}}\n"},
		{from: botoFunc + "TestAssumeRole.test_assume_role_uses_correct_region", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\nregion = us-east-1\n\n[profile B]\n{{alice}}\nregion = us-west-2\n"},
		{from: botoFunc + "TestAssumeRole.test_assume_role_resolves_account_id", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n\n[profile B]\n{{alice}}\naws_account_id = {{account}}\n"},
		{from: botoFunc + "TestAssumeRoleWithWebIdentity.test_assume_role", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nweb_identity_token_file = {{token}}\nrole_session_name = sname\n"},
		{from: botoFunc + "TestAssumeRoleWithWebIdentity.test_assume_role_env_vars", env: envWebToken},
		{from: botoFunc + "TestAssumeRoleWithWebIdentity.test_assume_role_env_vars_do_not_take_precedence", profile: "A",
			env:    merge(envWebToken, envOf("AWS_ROLE_SESSION_NAME", "from-env")),
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nweb_identity_token_file = {{token}}\nrole_session_name = sname\n"},
		{from: botoFunc + "TestProcessProvider.test_credential_process", profile: "processcreds",
			config: "[profile processcreds]\ncredential_process = {{process:session}}\n"},
		{from: botoFunc + "TestProcessProvider.test_credential_process_returns_error", profile: "processcreds",
			config: "[profile processcreds]\ncredential_process = {{process:fail}}\n"},
		{from: botoFunc + "TestSTSRegional.test_assume_role_uses_same_region_as_client", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\nsts_regional_endpoints = regional\nregion = us-east-1\n\n[profile B]\n{{alice}}\n"},
		{from: botoFunc + "TestSTSRegional.test_assume_role_web_identity_uses_same_region_as_client", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nweb_identity_token_file = {{token}}\nsts_regional_endpoints = regional\nregion = us-east-1\n"},
		{from: botoFunc + "SSOSessionTest.test_token_chosen_from_provider", profile: "A", sso: "A",
			config: "[profile A]\nsso_session = A\nsso_role_name = SSORole\nsso_account_id = {{account}}\n[sso-session A]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\n"},
		{from: botoFunc + "SSOSessionTest.test_mismatched_session_values", profile: "A", sso: "A",
			config: "[profile A]\nsso_session = A\nsso_region = us-west-2\nsso_role_name = SSORole\nsso_account_id = {{account}}\n[sso-session A]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\n"},
		{from: botoFunc + "SSOSessionTest.test_missing_sso_session", profile: "A", sso: "A",
			config: "[profile A]\nsso_session = A\nsso_role_name = SSORole\nsso_account_id = {{account}}\n"},

		// botocore's unit tests of the environment provider.
		{from: botoUnit + "TestEnvVar.test_envvars_are_found_no_token", env: envBob},
		{from: botoUnit + "TestEnvVar.test_envvars_found_with_session_token",
			env: envOf("AWS_ACCESS_KEY_ID", "{{session:id}}", "AWS_SECRET_ACCESS_KEY", "{{session:secret}}", "AWS_SESSION_TOKEN", "{{session:token}}")},
		{from: botoUnit + "TestEnvVar.test_envvars_found_with_security_token", differs: "D6",
			env: envOf("AWS_ACCESS_KEY_ID", "{{session:id}}", "AWS_SECRET_ACCESS_KEY", "{{session:secret}}", "AWS_SECURITY_TOKEN", "{{session:token}}")},
		{from: botoUnit + "TestEnvVar.test_envvars_found_with_account_id", env: merge(envBob, envOf("AWS_ACCOUNT_ID", "{{account}}"))},
		{from: botoUnit + "TestEnvVar.test_envvars_not_found"},
		{from: botoUnit + "TestEnvVar.test_partial_creds_is_an_error", env: envOf("AWS_ACCESS_KEY_ID", "AKIABOBEXAMPLE000001")},
		{from: botoUnit + "TestEnvVar.test_missing_access_key_id_raises_error", env: envOf("AWS_SECRET_ACCESS_KEY", "bobSecretKey00")},

		// botocore's unit tests of the shared credentials and config file providers.
		{from: botoUnit + "TestSharedCredentialsProvider.test_credential_file_exists_default_profile",
			credentials: "[default]\n{{bob}}\n"},
		{from: botoUnit + "TestSharedCredentialsProvider.test_partial_creds_raise_error",
			credentials: "[default]\naws_access_key_id = AKIABOBEXAMPLE000001\n"},
		{from: botoUnit + "TestSharedCredentialsProvider.test_credentials_file_exists_with_session_token",
			credentials: "[default]\n{{bob-session}}\n"},
		{from: botoUnit + "TestSharedCredentialsProvider.test_credentials_file_with_multiple_profiles", profile: "dev",
			credentials: "[default]\n{{alice}}\n[dev]\n{{bob}}\n"},
		{from: botoUnit + "TestSharedCredentialsProvider.test_credentials_file_does_not_exist_returns_none", profile: "dev",
			config: "[profile dev]\nregion = us-east-1\n"},
		{from: botoUnit + "TestSharedCredentialsProvider.test_credentials_file_exists_with_account_id",
			credentials: "[default]\n{{bob}}\naws_account_id = {{account}}\n"},
		{from: botoUnit + "TestConfigFileProvider.test_config_file_exists", profile: "default",
			config: "[default]\n{{bob}}\n"},
		{from: botoUnit + "TestConfigFileProvider.test_config_file_missing_profile_config", profile: "NOT-default",
			config: "[default]\n{{bob}}\n"},
		{from: botoUnit + "TestConfigFileProvider.test_partial_creds_is_error", profile: "default",
			config: "[default]\naws_access_key_id = AKIABOBEXAMPLE000001\n"},
		{from: botoUnit + "TestConfigFileProvider.test_config_file_with_account_id", profile: "default",
			config: "[default]\n{{bob}}\naws_account_id = {{account}}\n"},
		{from: botoUnit + "TestInstanceMetadataProvider.test_load_from_instance_metadata", env: envIMDS},
		{from: botoUnit + "TestCreateCredentialResolver.test_explicit_profile_ignores_env_provider", profile: "dev", env: envBob,
			credentials: "[dev]\n{{alice}}\n"},
		{from: botoUnit + "TestCreateCredentialResolver.test_no_profile_checks_env_provider", env: merge(envBob, envProfileOf("dev")),
			credentials: "[dev]\n{{alice}}\n"},
		{from: botoUnit + "TestCanonicalNameSourceProvider.test_load_source_credentials_case_insensitive", profile: "A", env: envBob,
			config: "[profile A]\nrole_arn = {{role:RoleA}}\ncredential_source = environment\n"},

		// botocore's unit tests of AssumeRoleProvider.
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_assume_role_with_no_cache", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\nsource_profile = longterm\n[profile longterm]\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_role_session_name_provided", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\nsource_profile = longterm\nrole_session_name = myname\n[profile longterm]\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_external_id_provided", profile: "development",
			config: "[profile development]\nrole_arn = {{role:ExtRole}}\nsource_profile = longterm\nexternal_id = ext-123\n[profile longterm]\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_external_id_provided (a wrong one)", profile: "development",
			config: "[profile development]\nrole_arn = {{role:ExtRole}}\nsource_profile = longterm\nexternal_id = wrong-id\n[profile longterm]\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_assume_role_with_duration", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\nsource_profile = longterm\nduration_seconds = 7200\n[profile longterm]\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_assume_role_with_bad_duration", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\nsource_profile = longterm\nduration_seconds = garbage value\n[profile longterm]\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_assume_role_with_mfa", profile: "development",
			config: "[profile development]\nrole_arn = {{role:MFARole}}\nsource_profile = longterm\nmfa_serial = {{serial}}\n[profile longterm]\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_no_config_is_noop", profile: "development",
			config: "[profile development]\n{{bob}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_source_profile_not_provided", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_source_profile_does_not_exist", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\nsource_profile = does-not-exist\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_incomplete_source_credentials_raises_error", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\nsource_profile = longterm\n[profile longterm]\naws_access_key_id = AKIAALICEEXAMPLE0001\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_source_profile_and_credential_source_provided", profile: "development", env: envBob,
			config: "[profile development]\nrole_arn = {{role:myrole}}\nsource_profile = longterm\ncredential_source = Environment\n[profile longterm]\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_credential_source_not_among_providers", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\ncredential_source = CustomUnknownProvider\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_assume_role_with_credential_source", profile: "development", env: envBob,
			config: "[profile development]\nrole_arn = {{role:myrole}}\ncredential_source = Environment\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_credential_source_returns_none", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\ncredential_source = Environment\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_source_profile_can_reference_self", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\nsource_profile = development\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_infinite_looping_profiles_raises_error", profile: "first",
			config: "[profile first]\nrole_arn = {{role:first}}\nsource_profile = second\n[profile second]\nrole_arn = {{role:second}}\nsource_profile = first\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_recursive_assume_role", profile: "first",
			config: "[profile first]\nrole_arn = {{role:first}}\nsource_profile = second\n[profile second]\nrole_arn = {{role:second}}\nsource_profile = third\n[profile third]\n{{alice}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_assume_role_with_profile_provider", profile: "development",
			config: "[profile development]\nrole_arn = {{role:myrole}}\nsource_profile = longterm\n[profile longterm]\ncredential_process = {{process:session}}\n"},
		{from: botoUnit + "TestAssumeRoleCredentialProvider.test_assume_role_mfa_cannot_refresh_credentials", profile: "development",
			config: "[profile development]\nrole_arn = {{role:MFARole}}\nsource_profile = longterm\nmfa_serial = {{serial}}\nduration_seconds = 900\n[profile longterm]\n{{alice}}\n"},

		// botocore's unit tests of the web identity provider.
		{from: botoUnit + "TestAssumeRoleWithWebIdentityCredentialProvider.test_assume_role_with_no_cache", profile: "some-profile",
			config: "[profile some-profile]\nrole_arn = {{role:RoleWeb}}\nweb_identity_token_file = {{token}}\n"},
		{from: botoUnit + "TestAssumeRoleWithWebIdentityCredentialProvider.test_role_session_name_provided", profile: "some-profile",
			config: "[profile some-profile]\nrole_arn = {{role:RoleWeb}}\nweb_identity_token_file = {{token}}\nrole_session_name = session_name\n"},
		{from: botoUnit + "TestAssumeRoleWithWebIdentityCredentialProvider.test_role_arn_not_set", profile: "some-profile",
			config: "[profile some-profile]\nweb_identity_token_file = {{token}}\n"},

		// botocore's unit tests of the container provider.
		{from: botoUnit + "TestContainerProvider.test_can_use_full_url", env: envOf("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{{ecs}}", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-token")},
		{from: botoUnit + "TestContainerProvider.test_can_pass_auth_token_from_file",
			env: envOf("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{{ecs}}", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "{{dir}}/ecs-token")},
		{from: botoUnit + "TestContainerProvider.test_throws_error_on_invalid_token_file",
			env: envOf("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{{ecs}}", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "{{dir}}/no-such-file")},

		// botocore's unit tests of the process provider.
		{from: botoUnit + "TestProcessProvider.test_can_retrieve_via_process", profile: "default",
			config: "[default]\ncredential_process = {{process:session}}\n"},
		{from: botoUnit + "TestProcessProvider.test_can_pass_arguments_through", profile: "default",
			config: "[default]\ncredential_process = {{process:args}} --foo --bar \"one two\"\n"},
		{from: botoUnit + "TestProcessProvider.test_non_zero_rc_raises_exception", profile: "default",
			config: "[default]\ncredential_process = {{process:fail}}\n"},
		{from: botoUnit + "TestProcessProvider.test_unsupported_version_raises_mismatch", profile: "default",
			config: "[default]\ncredential_process = {{process:version2}}\n"},
		{from: botoUnit + "TestProcessProvider.test_missing_version_in_payload_returned_raises_exception", profile: "default",
			config: "[default]\ncredential_process = {{process:noversion}}\n"},
		{from: botoUnit + "TestProcessProvider.test_missing_access_key_raises_exception", profile: "default",
			config: "[default]\ncredential_process = {{process:nokey}}\n"},
		{from: botoUnit + "TestProcessProvider.test_missing_secret_key_raises_exception", profile: "default",
			config: "[default]\ncredential_process = {{process:nosecret}}\n"},
		{from: botoUnit + "TestProcessProvider.test_missing_expiration_and_session_token", profile: "default",
			config: "[default]\ncredential_process = {{process:long}}\n"},
		{from: botoUnit + "TestProcessProvider.test_can_retrieve_account_id_via_profile_config", profile: "default",
			config: "[default]\ncredential_process = {{process:long}}\naws_account_id = {{account}}\n"},

		// botocore's unit tests of ProfileProviderBuilder's order, and of
		// the SSO provider.
		{from: botoUnit + "TestProfileProviderBuilder.test_profile_provider_builder_order (SSO before the credentials file)", profile: "both", sso: "legacy",
			config:      "[profile both]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\nsso_role_name = SSORole\nsso_account_id = {{account}}\n",
			credentials: "[both]\n{{bob}}\n"},
		{from: botoUnit + "TestProfileProviderBuilder.test_profile_provider_builder_order (the credentials file before credential_process)", profile: "both",
			config: "[profile both]\ncredential_process = {{process:session}}\n", credentials: "[both]\n{{bob}}\n"},
		{from: botoUnit + "TestProfileProviderBuilder.test_profile_provider_builder_order (credential_process before the config file)", profile: "both",
			config: "[profile both]\ncredential_process = {{process:session}}\n{{bob}}\n"},
		{from: botoUnit + "TestProfileProviderBuilder.test_profile_provider_builder_order (web identity first)", profile: "both",
			config: "[profile both]\nrole_arn = {{role:RoleWeb}}\nweb_identity_token_file = {{token}}\ncredential_process = {{process:session}}\n{{bob}}\n"},
		{from: botoUnit + "TestSSOProvider.test_load_sso_credentials_without_cache", profile: "test", sso: "legacy",
			config: "[profile test]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\nsso_role_name = SSORole\nsso_account_id = {{account}}\n"},
		{from: botoUnit + "TestSSOProvider.test_required_config_not_set", profile: "test", sso: "legacy",
			config: "[profile test]\nsso_start_url = {{ssoStartURL}}\nsso_role_name = SSORole\nsso_account_id = {{account}}\n"},
		{from: botoUnit + "TestSSOProvider.test_load_sso_credentials_with_account_id", profile: "test", sso: "legacy",
			config: "[profile test]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\nsso_role_name = dev\nsso_account_id = {{account}}\n"},
		{from: botoUnit + "TestSSOCredentialFetcher.test_raises_helpful_message_on_unauthorized_exception", profile: "test", sso: "legacy",
			config: "[profile test]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\nsso_role_name = NoSuchRole\nsso_account_id = {{account}}\n"},
		{from: botoUnit + "TestSSOCredentialFetcher.test_expired_legacy_token_has_expected_behavior", profile: "test",
			config: "[profile test]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\nsso_role_name = SSORole\nsso_account_id = {{account}}\n"},

		// botocore's config loader tests.
		{from: botoLoader + "TestConfigLoader.test_profile_map_conversion (quoted profile name)", profile: "personal",
			config: "[default]\n{{alice}}\n\n[profile \"personal\"]\n{{bob}}\n"},
		{from: botoLoader + "TestConfigLoader.test_bad_profiles_are_ignored (my profile)", profile: "my profile",
			config: "[default]\n{{alice}}\n[profile \"personal\" \"otherkey\"]\n{{alice}}\n[profile \"my profile\"]\n{{bob}}\n[profile \"missing end quote]\n\n[profile personal1]\n{{alice}}\n"},
		{from: botoLoader + "TestConfigLoader.test_bad_profiles_are_ignored (two names)", profile: "personal",
			config: "[default]\n{{alice}}\n[profile \"personal\" \"otherkey\"]\n{{alice}}\n"},
		{from: botoLoader + "TestConfigLoader.test_bad_profiles_are_ignored (missing end quote)", profile: "missing end quote",
			config: "[default]\n{{alice}}\n[profile \"missing end quote]\n{{bob}}\n"},
		{from: botoLoader + "TestConfigLoader.test_nested_hierarchy_parsing", profile: "default",
			config: "[default]\n{{bob}}\ns3 =\n    signature_version = s3v4\n    addressing_style = path\ncloudwatch =\n    signature_version = v4\nregion=us-east-1\n"},
		{from: botoLoader + "TestConfigLoader.test_sso_session_config", sso: "sso",
			config: "[default]\nsso_session = sso\nsso_account_id = {{account}}\nsso_role_name = SSORole\n\n[sso-session sso]\nsso_start_url = {{ssoStartURL}}\nsso_region = us-east-1\n"},
		{from: botoLoader + "TestConfigLoader.test_services_config", env: envOf("AWS_ENDPOINT_URL", ""),
			config: "[default]\nendpoint_url = https://localhost:1234/\nservices = my-services\n{{alice}}\nrole_arn = {{role:RoleA}}\nsource_profile = default\n\n[services my-services]\nsts =\n  endpoint_url = {{url}}\ndynamodb =\n  endpoint_url = https://localhost:8888/\n"},
		{from: botoLoader + "TestConfigLoader.test_multi_file_load (security token)", profile: "personal",
			config: "[profile \"personal\"]\n{{bob-session-legacy}}\n[profile A]\n"},

		// aws-sdk-go-v2's TestSharedConfigCredentialSource, on its
		// testdata/config_source_shared and credentials_source_shared.
		{from: sdkResolve + "TestSharedConfigCredentialSource/credential_source_env", profile: "env_var_credential_source", env: envBob,
			config: "[profile env_var_credential_source]\nrole_arn = {{role:assume_role_w_creds_role_arn_env}}\ncredential_source = Environment\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/invalid_source_and_credential_source", env: merge(envBob, envProfileOf("invalid_source_and_credential_source")),
			config: "[profile env_var_credential_source]\nrole_arn = {{role:assume_role_w_creds_role_arn_env}}\ncredential_source = Environment\n" +
				"[profile invalid_source_and_credential_source]\nrole_arn = {{role:assume_role_w_creds_role_arn_bad}}\ncredential_source = Environment\nsource_profile = env_var_credential_source\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/credential_source_ec2metadata", profile: "ec2metadata", env: envIMDS,
			config: "[profile ec2metadata]\nrole_arn = {{role:assume_role_w_creds_role_arn_ec2}}\ncredential_source = Ec2InstanceMetadata\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/credential_source_ecs_container", profile: "ecscontainer", env: envECS,
			config: "[profile ecscontainer]\nrole_arn = {{role:assume_role_w_creds_role_arn_ecs}}\ncredential_source = EcsContainer\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/chained_assume_role_with_env_creds", profile: "chained_assume_role", env: merge(envBob, envIMDS),
			config: "[profile ec2metadata]\nrole_arn = {{role:assume_role_w_creds_role_arn_ec2}}\ncredential_source = Ec2InstanceMetadata\n" +
				"[profile chained_assume_role]\nrole_arn = {{role:assume_role_w_creds_role_arn_chain}}\nsource_profile = ec2metadata\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/credential_process_with_no_ARN_set", profile: "cred_proc_no_arn_set",
			config: "[profile cred_proc_no_arn_set]\ncredential_process = {{process:session}}\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/credential_process_with_ARN_set", profile: "cred_proc_arn_set",
			config: "[profile cred_proc_arn_set]\nrole_arn = {{role:assume_role_w_creds_proc_role_arn}}\ncredential_process = {{process:session}}\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/chained_assume_role_with_credential_process", profile: "chained_cred_proc",
			config: "[profile cred_proc_no_arn_set]\ncredential_process = {{process:session}}\n" +
				"[profile chained_cred_proc]\nrole_arn = {{role:assume_role_w_creds_proc_source_prof}}\nsource_profile = cred_proc_no_arn_set\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/credentials_overide", profile: "credentials_overide", env: merge(envECS, envIMDS),
			config:      "[profile credentials_overide]\nrole_arn = {{role:assume_role_w_creds_role_arn_ec2}}\ncredential_source = Ec2InstanceMetadata\n",
			credentials: "[credentials_overide]\nrole_arn = {{role:assume_role_w_creds_role_arn_ec2}}\ncredential_source = EcsContainer\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/only_credentials_file", profile: "only_credentials_source", env: envECS,
			credentials: "[only_credentials_source]\nrole_arn = {{role:assume_role_w_creds_role_arn_ecs}}\ncredential_source = EcsContainer\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/sso_credentials", profile: "sso_creds", sso: "legacy",
			config: "[profile sso_creds]\nsso_account_id = {{account}}\nsso_region = us-east-1\nsso_role_name = SSORole\nsso_start_url = {{ssoStartURL}}\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/chained_assume_role_with_sso_credentials", profile: "source_sso_creds", sso: "legacy",
			config: "[profile sso_creds]\nsso_account_id = {{account}}\nsso_region = us-east-1\nsso_role_name = SSORole\nsso_start_url = {{ssoStartURL}}\n" +
				"[profile source_sso_creds]\nrole_arn = {{role:source_sso_creds_arn}}\nsource_profile = sso_creds\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/chained_assume_role_with_static_and_sso_credentials", profile: "assume_sso_and_static", sso: "legacy",
			config: "[profile assume_sso_and_static]\nrole_arn = {{role:assume_sso_and_static_arn}}\nsource_profile = sso_and_static\n" +
				"[profile sso_and_static]\n{{bob-session}}\nsso_account_id = {{account}}\nsso_region = us-east-1\nsso_role_name = SSORole\nsso_start_url = {{ssoStartURL}}\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/invalid_sso_configuration", profile: "sso_invalid",
			config: "[profile sso_invalid]\nsso_account_id = {{account}}\nsso_role_name = SSORole\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/environment_credentials_with_invalid_sso", env: merge(envBob, envProfileOf("sso_invalid")),
			config: "[profile sso_invalid]\nsso_account_id = {{account}}\nsso_role_name = SSORole\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/sso_mixed_with_credential_process_provider", profile: "sso_mixed_credproc", sso: "legacy",
			config: "[profile sso_mixed_credproc]\nsso_account_id = {{account}}\nsso_region = us-east-1\nsso_role_name = SSORole\nsso_start_url = {{ssoStartURL}}\ncredential_process = {{process:session}}\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/sso_mixed_with_web_identity_token_provider", profile: "sso_mixed_webident", sso: "legacy",
			config: "[profile sso_mixed_webident]\nweb_identity_token_file = {{token}}\nrole_arn = {{role:sso_mixed_webident_arn}}\nsso_account_id = {{account}}\nsso_region = us-east-1\nsso_role_name = SSORole\nsso_start_url = {{ssoStartURL}}\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/sso_session_missing_region", profile: "sso-session-missing-region", sso: "sso-session-missing-region-dev",
			config: "[profile sso-session-missing-region]\nregion = us-east-1\nsso_session = sso-session-missing-region-dev\nsso_account_id = {{account}}\nsso_role_name = SSORole\n\n[sso-session sso-session-missing-region-dev]\nsso_start_url = {{ssoStartURL}}\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/sso_session_mismatched_region", profile: "sso-session-mismatched-region", sso: "sso-session-mismatched-region-dev",
			config: "[profile sso-session-mismatched-region]\nsso_session = sso-session-mismatched-region-dev\nsso_region = us-east-1\nsso_account_id = {{account}}\nsso_role_name = SSORole\n\n[sso-session sso-session-mismatched-region-dev]\nsso_start_url = {{ssoStartURL}}\nsso_region = us-west-2\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/web_identity", profile: "webident",
			config: "[profile webident]\nweb_identity_token_file = {{token}}\nrole_arn = {{role:webident_arn}}\n"},
		{from: sdkResolve + "TestSharedConfigCredentialSource/web_identity_partial", profile: "webident-partial",
			config: "[profile webident-partial]\nweb_identity_token_file = {{token}}\n"},
		{from: sdkResolve + "TestResolveCredentialsEcsContainer/ecs_full_path_with_auth_token", env: envECS},
		{from: sdkResolve + "TestResolveCredentialsEcsContainer/ecs_full_path_with_auth_token_file",
			env: envOf("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{{ecs}}", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "{{dir}}/ecs-token")},
		{from: sdkResolve + "TestResolveCredentialsEcsContainer/ecs_credential_source_with_auth_token_file", profile: "ecs",
			env:    envOf("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{{ecs}}", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "{{dir}}/ecs-token"),
			config: "[profile ecs]\nrole_arn = {{role:RoleA}}\ncredential_source = EcsContainer\n"},

		// aws-sdk-go-v2's assume-role and process tests, on testdata/shared_config.
		{from: sdkAssume + "TestAssumeRole", env: envProfileOf("assume_role_w_creds"),
			config: "[profile assume_role_w_creds]\nrole_arn = {{role:assume_role_w_creds_role_arn}}\nsource_profile = assume_role_w_creds\nexternal_id = 1234\nrole_session_name = assume_role_w_creds_session_name\n{{alice}}\n"},
		{from: sdkAssume + "TestAssumeRole_WithMFA", profile: "assume_role_w_mfa",
			config: "[profile complete_creds]\n{{alice}}\n[profile assume_role_w_mfa]\nrole_arn = {{role:MFARole}}\nsource_profile = complete_creds\nmfa_serial = {{serial}}\n"},
		{from: sdkAssume + "TestAssumeRole_InvalidSourceProfile", env: envProfileOf("assume_role_invalid_source_profile"),
			config: "[profile assume_role_invalid_source_profile]\nrole_arn = {{role:assume_role_invalid_source_profile_role_arn}}\nsource_profile = profile_not_exists\n"},
		{from: sdkAssume + "TestAssumeRole_ExtendedDuration", env: envProfileOf("assume_role_w_creds_ext_dur"),
			config: "[profile assume_role_w_creds_ext_dur]\nrole_arn = {{role:ExtRole}}\nduration_seconds=1800\nsource_profile = assume_role_w_creds_ext_dur\nexternal_id = ext-123\nrole_session_name = assume_role_w_creds_session_name\n{{alice}}\n"},
		{from: sdkProcess + "TestProcessCredentialsProvider_FromConfig", profile: "default",
			config: "[default]\ncredential_process = {{process:session}}\n"},
		{from: sdkProcess + "TestProcessCredentialsProvider_FromConfigWithProfile", env: envProfileOf("not_expire"),
			config: "[profile not_expire]\ncredential_process = {{process:long}}\n"},
		{from: sdkProcess + "TestProcessCredentialsProvider_FromConfigWithStaticCreds", env: envProfileOf("not_alone"),
			config: "[profile not_alone]\n{{bob}}\ncredential_process = {{process:fail}}\n"},
		{from: sdkProcess + "TestProcessCredentialsProvider_FromCredentials",
			credentials: "[default]\ncredential_process = {{process:session}}\n"},
		{from: sdkProcess + "TestProcessCredentialsProvider_FromCredentialsWithProfile", env: envProfileOf("not_expire"),
			credentials: "[not_expire]\ncredential_process = {{process:long}}\n"},
		{from: sdkProcess + "TestProcessCredentialsProvider_FromCredentialsWithStaticCreds", env: envProfileOf("not_alone"),
			credentials: "[not_alone]\n{{bob}}\ncredential_process = {{process:fail}}\n"},
		{from: sdkWeb + "TestResolveWebIdentityWithOptions", env: merge(envWebToken, envOf("AWS_ROLE_SESSION_NAME", "test_session_name"))},

		// aws-sdk-go-v2's TestNewSharedConfig and TestLoadSharedConfig, on
		// testdata/shared_config, shared_credentials, load_config ...
		{from: sdkShared + "TestNewSharedConfig/complete_creds", profile: "complete_creds",
			config: "[profile complete_creds]\n{{bob}}\n"},
		{from: sdkShared + "TestNewSharedConfig/complete_creds_with_token", profile: "complete_creds_with_token",
			config: "[profile complete_creds_with_token]\n{{bob-session}}\n"},
		{from: sdkShared + "TestNewSharedConfig/partial_creds", profile: "partial_creds",
			config: "[profile partial_creds]\naws_access_key_id = AKIABOBEXAMPLE000001\n"},
		{from: sdkShared + "TestNewSharedConfig/partial_assume_role", profile: "partial_assume_role",
			config: "[profile partial_assume_role]\nrole_arn = {{role:partial_assume_role_role_arn}}\n"},
		{from: sdkShared + "TestNewSharedConfig/assume_role", profile: "assume_role",
			config: "[profile complete_creds]\n{{alice}}\n[profile assume_role]\nrole_arn = {{role:assume_role_role_arn}}\nsource_profile = complete_creds\n"},
		{from: sdkShared + "TestNewSharedConfig/assume_role_invalid_source_profile", profile: "assume_role_invalid_source_profile",
			config: "[profile assume_role_invalid_source_profile]\nrole_arn = {{role:assume_role_invalid_source_profile_role_arn}}\nsource_profile = profile_not_exists\n"},
		{from: sdkShared + "TestNewSharedConfig/assume_role_w_creds", profile: "assume_role_w_creds",
			config: "[profile assume_role_w_creds]\nrole_arn = {{role:ExtRole}}\nsource_profile = assume_role_w_creds\nexternal_id = ext-123\nrole_session_name = assume_role_w_creds_session_name\n{{alice}}\n"},
		{from: sdkShared + "TestNewSharedConfig/assume_role_wo_creds", profile: "assume_role_wo_creds",
			config: "[profile assume_role_wo_creds]\nrole_arn = {{role:assume_role_wo_creds_role_arn}}\nsource_profile = assume_role_wo_creds\n"},
		{from: sdkShared + "TestNewSharedConfig/with_mixed_case_keys", profile: "with_mixed_case_keys",
			config: "[profile with_mixed_case_keys]\naWs_AcCeSs_kEy_ID = AKIABOBEXAMPLE000001\naWs_SecrEt_AccEsS_kEY = bobSecretKey00\n"},
		{from: sdkShared + "TestNewSharedConfig/assume_role_with_credential_source", profile: "assume_role_with_credential_source", env: envIMDS,
			config: "[profile assume_role_with_credential_source]\nrole_arn = {{role:assume_role_with_credential_source_role_arn}}\ncredential_source = Ec2InstanceMetadata\n"},
		{from: sdkShared + "TestNewSharedConfig/multiple_assume_role", profile: "multiple_assume_role",
			config: "[profile complete_creds]\n{{alice}}\n[profile assume_role]\nrole_arn = {{role:assume_role_role_arn}}\nsource_profile = complete_creds\n" +
				"[profile multiple_assume_role]\nrole_arn = {{role:multiple_assume_role_role_arn}}\nsource_profile = assume_role\n"},
		{from: sdkShared + "TestNewSharedConfig/multiple_assume_role_with_credential_source", profile: "multiple_assume_role_with_credential_source", env: envIMDS,
			config: "[profile assume_role_with_credential_source]\nrole_arn = {{role:assume_role_with_credential_source_role_arn}}\ncredential_source = Ec2InstanceMetadata\n" +
				"[profile multiple_assume_role_with_credential_source]\nrole_arn = {{role:multiple_assume_role_with_credential_source_role_arn}}\nsource_profile = assume_role_with_credential_source\n"},
		{from: sdkShared + "TestNewSharedConfig/multiple_assume_role_with_credential_source2", profile: "multiple_assume_role_with_credential_source2", env: envIMDS,
			config: "[profile assume_role_with_credential_source]\nrole_arn = {{role:assume_role_with_credential_source_role_arn}}\ncredential_source = Ec2InstanceMetadata\n" +
				"[profile multiple_assume_role_with_credential_source]\nrole_arn = {{role:multiple_assume_role_with_credential_source_role_arn}}\nsource_profile = assume_role_with_credential_source\n" +
				"[profile multiple_assume_role_with_credential_source2]\nrole_arn = {{role:multiple_assume_role_with_credential_source2_role_arn}}\nsource_profile = multiple_assume_role_with_credential_source\n"},
		{from: sdkShared + "TestNewSharedConfig/sso_and_assume", profile: "source_sso_and_assume", env: envIMDS, sso: "legacy",
			config: "[profile assume_role_with_credential_source]\nrole_arn = {{role:assume_role_with_credential_source_role_arn}}\ncredential_source = Ec2InstanceMetadata\n" +
				"[profile multiple_assume_role_with_credential_source]\nrole_arn = {{role:multiple_assume_role_with_credential_source_role_arn}}\nsource_profile = assume_role_with_credential_source\n" +
				"[profile sso_and_assume]\nsso_account_id = {{account}}\nsso_region = us-east-1\nsso_role_name = SSORole\nsso_start_url = {{ssoStartURL}}\nrole_arn = {{role:sso_with_assume_role_arn}}\nsource_profile = multiple_assume_role_with_credential_source\n" +
				"[profile source_sso_and_assume]\nrole_arn = {{role:source_sso_and_assume_arn}}\nsource_profile = sso_and_assume\n"},
		{from: sdkShared + "TestNewSharedConfig/sso-session-success", profile: "sso-session-success", sso: "sso-session-success-dev",
			config: "[profile sso-session-success]\nregion = us-east-1\nsso_session = sso-session-success-dev\nsso_account_id = {{account}}\nsso_role_name = SSORole\n\n[sso-session sso-session-success-dev]\nsso_region = us-east-1\nsso_start_url = {{ssoStartURL}}\nsso_registration_scopes = sso:account:access\n"},
		{from: sdkShared + "TestNewSharedConfig/AssumeWithDoNotNormalize", profile: "AssumeWithDoNotNormalize",
			config: "[profile DoNotNormalize]\n{{alice}}\n[profile donotnormalize]\n{{bob}}\n[profile AssumeWithDoNotNormalize]\nrole_arn = {{role:AssumeWithDoNotNormalize_role_arn}}\nsource_profile = DoNotNormalize\n"},
		{from: sdkShared + "TestNewSharedConfig/account_id", profile: "account_id",
			config: "[profile account_id]\n{{bob}}\naws_account_id = {{account}}\n"},
		{from: sdkShared + "TestLoadSharedConfig/with-tab", profile: "with-tab",
			config: "[profile    with-tab]\n{{bob}}\n"},
		{from: sdkShared + "TestLoadSharedConfig/complete", profile: "complete",
			config: "[profile complete]\naws_access_key_id = configAccessKey\naws_secret_access_key = configSecretKey\nregion = us-east-1\n", credentials: "[complete]\n{{bob}}\n"},
		{from: sdkShared + "TestLoadSharedConfig/partial-creds-1", profile: "partial-creds-1",
			config: "[profile partial-creds-1]\naws_access_key_id = AKIABOBEXAMPLE000001\n", credentials: "[partial-creds-1]\naws_secret_access_key = bobSecretKey00\n"},
		{from: sdkShared + "TestLoadSharedConfig/replaced-profile", profile: "replaced-profile",
			config: "[replaced-profile]\n{{alice}}\n[profile replaced-profile]\nrole_arn = {{role:RoleA}}\nsource_profile = src\n[profile src]\n{{bob}}\n"},
		{from: sdkShared + "TestLoadSharedConfig/profile-bar", profile: "profile-bar",
			config: "[profile-bar]\n{{alice}}\n", credentials: "[profile-bar]\n{{bob}}\n"},
		{from: sdkShared + "TestLoadSharedConfig/default (profile default then default)", profile: "default",
			config: "[profile default]\nrole_arn = {{role:RoleA}}\nsource_profile = src\n[default]\nrole_arn = {{role:RoleB}}\nsource_profile = src\n[profile src]\n{{bob}}\n"},
		{from: sdkShared + "TestLoadSharedConfig/default (default then profile default)", profile: "default",
			config: "[default]\nrole_arn = {{role:RoleA}}\nsource_profile = src\n[profile default]\nrole_arn = {{role:RoleB}}\nsource_profile = src\n[profile src]\n{{bob}}\n"},
		{from: sdkShared + "TestLoadSharedConfig/sso-session-test", profile: "sso-session-test", sso: "dev-session",
			config: "[profile sso-session-test]\nsso_session = dev-session\nsso_account_id = {{account}}\nsso_role_name = SSORole\n\n[sso-session dev-session]\nsso_region = us-east-1\nsso_start_url =  {{ssoStartURL}}\n"},

		// Beyond the peers' tests: what the issues report.
		{from: "issue 18 item 3: aws_session_token of the config file with the keys of the credentials file", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n[profile B]\naws_session_token = stale\n", credentials: "[B]\n{{alice}}\n"},
		{from: "issue 18 item 4: web_identity_token_file with source_profile", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nweb_identity_token_file = {{token}}\nsource_profile = B\n[profile B]\n{{alice}}\n"},
		{from: "issue 18 item 4: credential_process with role_arn and source_profile", profile: "A",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\ncredential_process = {{process:fail}}\nsource_profile = B\n[profile B]\n{{alice}}\n"},
		{from: "issue 18 item 5: a broken AWS_PROFILE behind keys in the environment", env: merge(envBob, envProfileOf("A")),
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n[profile B]\nrole_arn = {{role:RoleB}}\nsource_profile = A\n"},
		{from: "issue 18 item 9: credential_source with static keys", profile: "A", env: envBob,
			config: "[profile A]\nrole_arn = {{role:RoleA}}\ncredential_source = Environment\n{{alice}}\n"},
		{from: "issue 18: AWS_PROFILE with a web identity in the environment", env: merge(envWebToken, envProfileOf("A")), differs: "D1",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\n[profile B]\n{{alice}}\n"},
		{from: "issue 18: role chaining beyond an hour", profile: "A", differs: "D2",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\nduration_seconds = 7200\n[profile B]\nrole_arn = {{role:RoleB}}\nsource_profile = C\n[profile C]\n{{alice}}\n"},
		{from: "issue 18: source_profile without role_arn", profile: "A", env: envIMDS, differs: "D3",
			config: "[profile A]\nsource_profile = B\n[profile B]\n{{alice}}\n"},
		{from: "issue 18: an inline comment after a value", profile: "A", differs: "D4",
			config: "[profile A]\nrole_arn = {{role:RoleA}} # the deploy role\nsource_profile = B\n[profile B]\n{{alice}}\n"},
		{from: "issue 18: a role_session_name in quotes", profile: "A", differs: "D4",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\nsource_profile = B\nrole_session_name = \"deployer\"\n[profile B]\n{{alice}}\n"},
		{from: "issue 18: a profile twice in one file", profile: "A", differs: "D4",
			config: "[profile A]\nrole_arn = {{role:RoleA}}\n[profile B]\n{{alice}}\n[profile A]\nsource_profile = B\n"},
		{from: "issue 18: a key with an empty value", profile: "A", differs: "D9",
			config: "[profile A]\n{{bob}}\nrole_arn =\n"},
		{from: "issue 18: credential_process through a shell", profile: "A", differs: "D5",
			config: "[profile A]\ncredential_process = cat {{dir}}/session.json | cat\n"},
	}
}

// endpointCases are the cases run again with the endpoint given each
// other way: one of each kind of root.
func endpointCases() []diffCase {
	var out []diffCase
	for _, c := range baseCases() {
		for _, name := range []string{
			"TestAssumeRole.test_assume_role",
			"TestAssumeRole.test_environment_credential_source",
			"TestAssumeRole.test_container_credential_source",
			"TestAssumeRole.test_process_source_profile",
			"TestAssumeRole.test_web_identity_source_profile",
			"TestAssumeRole.test_sso_source_profile_legacy",
			"TestAssumeRole.test_sso_source_profile",
			"TestAssumeRoleWithWebIdentity.test_assume_role",
			"TestAssumeRoleWithWebIdentity.test_assume_role_env_vars",
			"TestProcessProvider.test_credential_process",
			"SSOSessionTest.test_token_chosen_from_provider",
			"TestSharedConfigCredentialSource/chained_assume_role_with_sso_credentials",
		} {
			if strings.HasSuffix(c.from, " "+name) {
				out = append(out, c)
			}
		}
	}
	return out
}

// endpointVariants are c with the endpoint given by
// AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_SSO, by endpoint_url in the
// selected profile, and by a services section.
func endpointVariants(c diffCase) []diffCase {
	noGlobal := map[string]string{"AWS_ENDPOINT_URL": ""}
	header := "[default]"
	if c.profile != "" && c.profile != "default" {
		header = "[profile " + c.profile + "]"
	}
	if p := c.env["AWS_PROFILE"]; p != "" {
		header = "[profile " + p + "]"
	}
	withKeys := func(keys string) string {
		if !strings.Contains(c.config, header+"\n") {
			return header + "\n" + keys + c.config
		}
		return strings.Replace(c.config, header+"\n", header+"\n"+keys, 1)
	}
	services := "[services local]\nsts =\n  endpoint_url = {{url}}\nsso =\n  endpoint_url = {{url}}\n"

	v1 := c
	v1.from += " [endpoint: AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_SSO]"
	v1.env = merge(c.env, noGlobal, envOf("AWS_ENDPOINT_URL_STS", "{{url}}", "AWS_ENDPOINT_URL_SSO", "{{url}}"))
	v2 := c
	v2.from += " [endpoint: endpoint_url]"
	v2.env = merge(c.env, noGlobal)
	v2.config = withKeys("endpoint_url = {{url}}\n")
	v3 := c
	v3.from += " [endpoint: services]"
	v3.env = merge(c.env, noGlobal)
	v3.config = withKeys("services = local\n") + "\n" + services
	return []diffCase{v1, v2, v3}
}

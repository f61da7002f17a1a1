package awsprofile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
)

// refused turns the SDK loader's refusal of profile's files into an error
// naming the profile at fault. The SDK's messages do not always say which
// profile of a chain is wrong (a loop shows as a source profile without
// credentials; "only one credential type may be specified per profile"
// names none), so the chain is followed again in the raw reading of the
// same files to find it. The SDK's error is always the cause.
func refused(raw rawProfiles, profile string, sdkErr error) error {
	if raw != nil {
		if e := raw.diagnose(profile); e != nil {
			e.Err = sdkErr
			return e
		}
	}
	var (
		notExist config.SharedConfigProfileNotExistError
		assume   config.SharedConfigAssumeRoleError
		needsARN config.CredentialRequiresARNError
		load     config.SharedConfigLoadError
	)
	switch {
	case errors.As(sdkErr, &assume) && errors.As(sdkErr, &notExist):
		return &ConfigError{Profile: assume.Profile, Problem: fmt.Sprintf("the source_profile of the profile assuming %s is in none of the files", assume.RoleARN), Err: sdkErr, notFound: true}
	case errors.As(sdkErr, &notExist):
		return &ConfigError{Profile: notExist.Profile, Problem: "the profile is in none of the files", Err: sdkErr, notFound: true}
	case errors.As(sdkErr, &assume):
		return &ConfigError{Profile: assume.Profile, Problem: fmt.Sprintf("the source profile of the profile assuming %s has no credentials", assume.RoleARN), Err: sdkErr}
	case errors.As(sdkErr, &needsARN):
		return &ConfigError{Profile: needsARN.Profile, Problem: fmt.Sprintf("%s needs role_arn", needsARN.Type), Err: sdkErr}
	case errors.As(sdkErr, &load):
		return &ConfigError{Profile: profile, Problem: "the SDK cannot read the files: " + causeText(sdkErr), Err: sdkErr}
	}
	return fmt.Errorf("awsprofile: loading profile %q: %w", profile, sdkErr)
}

// diagnose follows profile's chain in the raw reading, by the rules of
// resolvePlan and the SDK's own checks, and returns the first fault it
// finds, or nil.
func (raw rawProfiles) diagnose(profile string) *ConfigError {
	path := []string{profile}
	fail := func(name, format string, args ...any) *ConfigError {
		e := &ConfigError{Profile: name, Problem: fmt.Sprintf(format, args...)}
		if len(path) > 1 {
			e.Chain = slices.Clone(path)
		}
		return e
	}
	for cur := profile; ; {
		keys, ok := raw[cur]
		if !ok {
			e := fail(cur, "the profile is in none of the files")
			if len(path) > 1 {
				e.Problem = fmt.Sprintf("source_profile %q of profile %q is in none of the files", cur, path[len(path)-2])
			}
			e.notFound = true
			return e
		}
		_, hasID := keys["aws_access_key_id"]
		_, hasSecret := keys["aws_secret_access_key"]
		switch {
		case hasID && !hasSecret:
			return fail(cur, "aws_access_key_id is set without aws_secret_access_key: want both or neither")
		case hasSecret && !hasID:
			return fail(cur, "aws_secret_access_key is set without aws_access_key_id: want both or neither")
		case hasID && cur != profile:
			return nil // a source profile with keys ends the chain
		}
		var kinds []string
		for _, k := range []string{"source_profile", "credential_source", "credential_process", "web_identity_token_file"} {
			if keys[k] != "" {
				kinds = append(kinds, k)
			}
		}
		role, src := keys["role_arn"], keys["source_profile"]
		switch {
		case role == "" && len(kinds) > 0 && kinds[0] != "credential_process":
			return fail(cur, "%s needs role_arn", kinds[0])
		case len(kinds) > 1:
			return fail(cur, "%s are set together: want at most one", strings.Join(kinds, " and "))
		case role == "" && cur != profile && !hasID && len(kinds) == 0 && !hasSSO(keys):
			return fail(cur, "%s", noCredentials)
		case role == "" || keys["web_identity_token_file"] != "" || keys["credential_source"] != "":
			return nil
		case src == "":
			return fail(cur, "role_arn %s has neither source_profile nor credential_source: want exactly one of them", role)
		case slices.Contains(path, src) && !(src == cur && hasID):
			path = append(path, src)
			return fail(cur, "%s", loopProblem(cur, src))
		case src == cur:
			return nil
		}
		path = append(path, src)
		cur = src
	}
}

func hasSSO(keys map[string]string) bool {
	for _, k := range []string{"sso_session", "sso_start_url", "sso_account_id", "sso_role_name", "sso_region"} {
		if keys[k] != "" {
			return true
		}
	}
	return false
}

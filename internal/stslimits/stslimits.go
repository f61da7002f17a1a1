// Package stslimits holds the session-duration limits of AWS STS and IAM,
// once, for the packages that check requests against them (ststest, and
// the root package's option validation).
//
// Each constant names its source: the STS and IAM API references, whose
// texts the sts module of aws-sdk-go-v2 carries in its doc comments
// (api_op_AssumeRole.go, api_op_GetSessionToken.go,
// api_op_AssumeRoleWithWebIdentity.go), and the STS API model that
// botocore ships (service-2.json), whose DurationSeconds bounds the tests
// check.
package stslimits

import "time"

// Durations of the sessions STS issues.
const (
	// MinDuration is the shortest session STS issues: DurationSeconds of
	// AssumeRole, AssumeRoleWithWebIdentity and GetSessionToken is at
	// least 900 seconds (the API model's roleDurationSecondsType and
	// durationSecondsType: min 900).
	MinDuration = 15 * time.Minute

	// DefaultAssumeRoleDuration is the session AssumeRole and
	// AssumeRoleWithWebIdentity issue when the request names no
	// DurationSeconds ("By default, the value is set to 3600 seconds",
	// STS API reference, AssumeRole and AssumeRoleWithWebIdentity).
	DefaultAssumeRoleDuration = time.Hour

	// MaxAssumeRoleDuration is the largest DurationSeconds AssumeRole and
	// AssumeRoleWithWebIdentity accept, 43200 seconds (the API model's
	// roleDurationSecondsType: max 43200). The role's MaxSessionDuration
	// may lower it.
	MaxAssumeRoleDuration = 12 * time.Hour

	// RoleChainingMaxDuration is the longest session AssumeRole issues to
	// a caller that signs with temporary credentials: "Role chaining
	// limits your Amazon Web Services CLI or Amazon Web Services API role
	// session to a maximum of one hour" (STS API reference, AssumeRole,
	// DurationSeconds). A longer DurationSeconds is refused.
	RoleChainingMaxDuration = time.Hour

	// DefaultGetSessionTokenDuration is the session GetSessionToken issues
	// to an IAM user when the request names no DurationSeconds: "43,200
	// seconds (12 hours) as the default" (STS API reference,
	// GetSessionToken).
	DefaultGetSessionTokenDuration = 12 * time.Hour

	// MaxGetSessionTokenDuration is the largest DurationSeconds
	// GetSessionToken accepts from an IAM user, 129,600 seconds (the API
	// model's durationSecondsType: max 129600).
	MaxGetSessionTokenDuration = 36 * time.Hour
)

// Limits of a role's MaxSessionDuration setting.
const (
	// DefaultRoleMaxSessionDuration is a role's MaxSessionDuration when
	// none was set: "If you do not specify a value for this setting, the
	// default value of one hour is applied" (IAM API reference,
	// CreateRole).
	DefaultRoleMaxSessionDuration = time.Hour

	// MinRoleMaxSessionDuration is the smallest MaxSessionDuration a role
	// may have, 3600 seconds (IAM API reference, CreateRole: "Valid Range:
	// Minimum value of 3600").
	MinRoleMaxSessionDuration = time.Hour

	// MaxRoleMaxSessionDuration is the largest MaxSessionDuration a role
	// may have, 43200 seconds (IAM API reference, CreateRole: "Maximum
	// value of 43200").
	MaxRoleMaxSessionDuration = 12 * time.Hour
)

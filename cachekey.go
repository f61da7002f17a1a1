package stschain

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stschain/stschain/internal/clicache"
)

// Cache keys: an AssumeRole entry is keyed exactly as the AWS CLI keys it,
// so that FileCache shares sessions with the CLI; a GetSessionToken entry
// (which the CLI does not cache) by a hash that includes the master's
// access key ID. See package internal/clicache.

// assumeRoleCacheKey returns the AWS CLI's cache key for in; see
// [clicache.AssumeRoleKey].
func assumeRoleCacheKey(in *sts.AssumeRoleInput, sessionNameGiven bool) (string, error) {
	key, err := clicache.AssumeRoleKey(in, sessionNameGiven)
	if err != nil {
		return "", fmt.Errorf("stschain: cache key: %w", err)
	}
	return key, nil
}

// sessionTokenCacheKey returns the cache key of a GetSessionToken session;
// see [clicache.SessionTokenKey].
func sessionTokenCacheKey(in *sts.GetSessionTokenInput, masterAccessKeyID string) (string, error) {
	key, err := clicache.SessionTokenKey(in, masterAccessKeyID)
	if err != nil {
		return "", fmt.Errorf("stschain: cache key: %w", err)
	}
	return key, nil
}

// accountFromARN returns the 12-digit account of arn, or "" when arn is not
// an ARN with one.
func accountFromARN(arn string) string { return clicache.AccountOf(arn) }

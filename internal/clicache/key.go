package clicache

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stschain/stschain/internal/pyjson"
)

// Cache keys.
//
// An AssumeRole entry is keyed exactly as the AWS CLI (botocore's
// BaseAssumeRoleCredentialFetcher._create_cache_key) keys it, so that a
// session the CLI cached in ~/.aws/cli/cache is found by this package and the
// other way round:
//
//	sha1_hex(json.dumps(args, sort_keys=True))
//
// where args are the AssumeRole arguments that were set, named and shaped as
// boto3 sends them, without TokenCode, without RoleSessionName when that was
// generated rather than given (botocore drops it only then: a
// role_session_name from the profile is part of the key), and with Policy
// parsed from JSON so that its keys are sorted too. botocore's
// _make_file_safe changes nothing in a hex digest.
//
// The JSON is internal/pyjson's, whose limits all lie inside Policy: a
// policy with a lone UTF-16 surrogate escape (\ud800) gets a key the CLI
// does not compute.

// AssumeRoleKey returns the AWS CLI's cache key for in. The arguments that
// count are those set in in (non-nil pointers, non-empty slices);
// RoleSessionName counts only when sessionNameGiven, that is when the user
// chose it rather than the provider generating it. TokenCode never counts.
func AssumeRoleKey(in *sts.AssumeRoleInput, sessionNameGiven bool) (string, error) {
	if in == nil || in.RoleArn == nil || *in.RoleArn == "" {
		return "", errors.New("AssumeRole input has no RoleArn")
	}
	args := map[string]any{"RoleArn": *in.RoleArn}
	if sessionNameGiven {
		if in.RoleSessionName == nil {
			return "", errors.New("RoleSessionName is said to be given but is nil")
		}
		args["RoleSessionName"] = *in.RoleSessionName
	}
	setString := func(name string, p *string) {
		if p != nil {
			args[name] = *p
		}
	}
	setString("ExternalId", in.ExternalId)
	setString("SerialNumber", in.SerialNumber)
	setString("SourceIdentity", in.SourceIdentity)
	if in.DurationSeconds != nil {
		args["DurationSeconds"] = int64(*in.DurationSeconds)
	}
	if in.Policy != nil {
		p, err := pyjson.Loads(*in.Policy)
		if err != nil {
			return "", fmt.Errorf("the Policy is not valid JSON: %w", err)
		}
		args["Policy"] = p
	}
	if len(in.PolicyArns) > 0 {
		l := make([]any, 0, len(in.PolicyArns))
		for _, d := range in.PolicyArns {
			m := map[string]any{}
			if d.Arn != nil {
				m["arn"] = *d.Arn
			}
			l = append(l, m)
		}
		args["PolicyArns"] = l
	}
	if len(in.Tags) > 0 {
		l := make([]any, 0, len(in.Tags))
		for _, t := range in.Tags {
			m := map[string]any{}
			if t.Key != nil {
				m["Key"] = *t.Key
			}
			if t.Value != nil {
				m["Value"] = *t.Value
			}
			l = append(l, m)
		}
		args["Tags"] = l
	}
	if len(in.TransitiveTagKeys) > 0 {
		l := make([]any, 0, len(in.TransitiveTagKeys))
		for _, k := range in.TransitiveTagKeys {
			l = append(l, k)
		}
		args["TransitiveTagKeys"] = l
	}
	if len(in.ProvidedContexts) > 0 {
		l := make([]any, 0, len(in.ProvidedContexts))
		for _, c := range in.ProvidedContexts {
			m := map[string]any{}
			if c.ProviderArn != nil {
				m["ProviderArn"] = *c.ProviderArn
			}
			if c.ContextAssertion != nil {
				m["ContextAssertion"] = *c.ContextAssertion
			}
			l = append(l, m)
		}
		args["ProvidedContexts"] = l
	}
	return sha1Key(args)
}

// sessionTokenKeyTag marks the hashed JSON of a GetSessionToken key. No
// AssumeRole argument has this name, and every AssumeRole key hashes a
// RoleArn, so the two kinds of key never collide.
const sessionTokenKeyTag = "stschain:GetSessionToken"

// SessionTokenKey returns the cache key of a GetSessionToken session (which
// the AWS CLI does not cache). It hashes the master's access key ID, so that
// two IAM users never share an entry, with DurationSeconds and SerialNumber
// when set. TokenCode never counts.
func SessionTokenKey(in *sts.GetSessionTokenInput, masterAccessKeyID string) (string, error) {
	if masterAccessKeyID == "" {
		return "", errors.New("GetSessionToken needs the master's access key ID")
	}
	args := map[string]any{
		sessionTokenKeyTag: 1,
		"AccessKeyId":      masterAccessKeyID,
	}
	if in != nil {
		if in.DurationSeconds != nil {
			args["DurationSeconds"] = int64(*in.DurationSeconds)
		}
		if in.SerialNumber != nil {
			args["SerialNumber"] = *in.SerialNumber
		}
	}
	return sha1Key(args)
}

// sha1Key is the lower-case hex SHA-1 of v serialised as Python's
// json.dumps(v, sort_keys=True).
func sha1Key(v any) (string, error) {
	s, err := pyjson.Dumps(v, false)
	if err != nil {
		return "", err
	}
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:]), nil
}

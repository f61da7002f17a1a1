package clicache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/stschain/stschain/internal/credcheck"
)

// MaxFileSize bounds what [Dir.ReadEntry] reads: a cache entry is a few KiB.
const MaxFileSize = 1 << 20

// file is the JSON of an AWS CLI cache entry as Encode writes it: botocore
// stores the AssumeRole response dict as it is, adds Credentials.AccountId,
// and writes Expiration with strftime("%Y-%m-%dT%H:%M:%S%Z"). Other keys
// (ResponseMetadata, PackedPolicySize) are ignored when read and not
// written.
type file struct {
	Credentials     fileCredentials      `json:"Credentials"`
	AssumedRoleUser *fileAssumedRoleUser `json:"AssumedRoleUser,omitempty"`
}

type fileCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Expiration      string `json:"Expiration"`
	AccountID       string `json:"AccountId,omitempty"`
}

type fileAssumedRoleUser struct {
	AssumedRoleID string `json:"AssumedRoleId"`
	Arn           string `json:"Arn"`
}

// expirationLayout is how botocore writes Expiration today: whole seconds
// and the zone name of its UTC datetime, "2030-07-15T23:28:33UTC".
const expirationLayout = "2006-01-02T15:04:05UTC"

// expirationLayouts are the forms of Expiration read. time.Parse accepts a
// fractional second after the seconds in each of them.
var expirationLayouts = []string{
	expirationLayout,           // botocore JSONFileCache: ...UTC
	time.RFC3339,               // ...Z, ...+00:00, ...-07:00 (datetime.isoformat, Go)
	"2006-01-02T15:04:05-0700", // strftime %z
	"2006-01-02T15:04:05 UTC",
	"2006-01-02 15:04:05Z07:00", // str(datetime)
	"2006-01-02 15:04:05UTC",
	"2006-01-02 15:04:05-0700",
	"2006-01-02 15:04:05 UTC",
}

// parseExpiration reads every form of Expiration botocore versions and other
// tools write. A time without a zone is rejected: botocore cannot compare it
// either.
func parseExpiration(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range expirationLayouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		// Encode could not write a year beyond these.
		if y := t.UTC().Year(); y < 1 || y > 9999 {
			return time.Time{}, errors.New("Credentials.Expiration is out of range (years 1 to 9999 UTC)")
		}
		return t, nil
	}
	const want = "want for example 2030-07-15T23:28:33UTC or 2030-07-15T23:28:33Z"
	if dateLike(s) {
		return time.Time{}, fmt.Errorf("the Expiration %q is not a date and time with a zone (%s)", s, want)
	}
	return time.Time{}, fmt.Errorf("Credentials.Expiration is not a date and time (%s)", want)
}

// dateLike reports whether s is short and made of the characters of a date
// and time only, so that an error may quote it: a credential that ended up
// in Expiration, in a file corrupted or written by a broken tool, is not.
func dateLike(s string) bool {
	if len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789-:.,+ TZUC", r) {
			return false
		}
	}
	return true
}

// Decode parses an AWS CLI cache file. The credentials it returns have
// CanExpire set, Expires from Expiration and AccountID from the
// AssumedRoleUser's ARN or Credentials.AccountId; Source is empty. user is
// nil when the file has no AssumedRoleUser (a GetSessionToken session).
//
// Decode refuses, with an error saying what is wrong, a file that is not
// JSON, or not an object, whose Credentials lack AccessKeyId,
// SecretAccessKey, SessionToken or Expiration, hold anything but strings,
// or credentials of a shape AWS does not issue (see [credcheck.Check]: an
// access key ID of 16 to 128 upper-case letters and digits, a secret key
// and session token of the base64 alphabet), whose Expiration has no
// zone, whose AccountId is not 12 digits, whose AssumedRoleUser.Arn is not
// the ARN of an assumed-role session, or whose AccountId and
// AssumedRoleUser name different accounts. Keys match exactly, as
// Python's do. Its errors name what is wrong, never a value from the file
// except an Expiration that looks like a date.
func Decode(data []byte) (creds aws.Credentials, user *types.AssumedRoleUser, err error) {
	top, err := object(data, "the file")
	if err != nil {
		return aws.Credentials{}, nil, err
	}
	raw, ok := top["Credentials"]
	if !ok || kind(raw) == "null" {
		return aws.Credentials{}, nil, errors.New("not an AWS CLI cache entry: no Credentials object")
	}
	cr, err := object(raw, "Credentials")
	if err != nil {
		return aws.Credentials{}, nil, err
	}
	var f fileCredentials
	var missing []string
	for _, field := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"AccessKeyId", &f.AccessKeyID, true},
		{"SecretAccessKey", &f.SecretAccessKey, true},
		{"SessionToken", &f.SessionToken, true},
		{"Expiration", &f.Expiration, true},
		{"AccountId", &f.AccountID, false},
	} {
		if err := str(cr, "Credentials", field.name, field.dst); err != nil {
			return aws.Credentials{}, nil, err
		}
		if *field.dst == "" && field.required {
			missing = append(missing, field.name)
		}
	}
	if len(missing) > 0 {
		return aws.Credentials{}, nil, fmt.Errorf("not an AWS CLI cache entry: Credentials has no %s", strings.Join(missing, ", "))
	}
	if err := credcheck.Check(f.AccessKeyID, f.SecretAccessKey, f.SessionToken); err != nil {
		return aws.Credentials{}, nil, fmt.Errorf("not an AWS CLI cache entry: Credentials.%w", err)
	}
	expires, err := parseExpiration(f.Expiration)
	if err != nil {
		return aws.Credentials{}, nil, err
	}
	if f.AccountID != "" && !isAccountID(f.AccountID) {
		return aws.Credentials{}, nil, errors.New("not an AWS CLI cache entry: Credentials.AccountId is not a 12-digit account ID")
	}
	creds = aws.Credentials{
		AccessKeyID:     f.AccessKeyID,
		SecretAccessKey: f.SecretAccessKey,
		SessionToken:    f.SessionToken,
		CanExpire:       true,
		Expires:         expires,
		AccountID:       f.AccountID,
	}

	if raw, ok := top["AssumedRoleUser"]; ok && kind(raw) != "null" {
		u, err := object(raw, "AssumedRoleUser")
		if err != nil {
			return aws.Credentials{}, nil, err
		}
		var fu fileAssumedRoleUser
		if err := str(u, "AssumedRoleUser", "Arn", &fu.Arn); err != nil {
			return aws.Credentials{}, nil, err
		}
		if err := str(u, "AssumedRoleUser", "AssumedRoleId", &fu.AssumedRoleID); err != nil {
			return aws.Credentials{}, nil, err
		}
		role, ok := parseAssumedRoleARN(fu.Arn)
		if !ok {
			return aws.Credentials{}, nil, errors.New("not an AWS CLI cache entry: AssumedRoleUser.Arn is not the ARN of an assumed-role session (want arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION)")
		}
		if f.AccountID != "" && f.AccountID != role.account {
			return aws.Credentials{}, nil, errors.New("not an AWS CLI cache entry: Credentials.AccountId and AssumedRoleUser.Arn name different accounts")
		}
		creds.AccountID = role.account
		user = &types.AssumedRoleUser{Arn: aws.String(fu.Arn), AssumedRoleId: aws.String(fu.AssumedRoleID)}
	}
	return creds, user, nil
}

// object decodes raw, the JSON of what, as an object.
func object(raw []byte, what string) (map[string]json.RawMessage, error) {
	if !json.Valid(raw) {
		var v any
		var syn *json.SyntaxError
		if err := json.Unmarshal(raw, &v); errors.As(err, &syn) {
			// A SyntaxError quotes a character of the file, which may be
			// part of a secret: say only where it is.
			return nil, fmt.Errorf("not valid JSON (error at byte %d of %d)", syn.Offset, len(raw))
		}
		return nil, errors.New("not valid JSON")
	}
	if k := kind(raw); k != "object" {
		return nil, fmt.Errorf("not an AWS CLI cache entry: %s is a JSON %s, want an object", what, k)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not an AWS CLI cache entry: %s is not a JSON object", what)
	}
	return m, nil
}

// str sets *dst to the string m[name] of the object what; null or absent
// leave it empty.
func str(m map[string]json.RawMessage, what, name string, dst *string) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	switch k := kind(raw); k {
	case "null":
		return nil
	case "string":
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("not an AWS CLI cache entry: %s.%s is not a JSON string", what, name)
		}
		return nil
	default:
		return fmt.Errorf("not an AWS CLI cache entry: %s.%s is a JSON %s, want a string", what, name, k)
	}
}

// kind names the JSON type of the valid JSON value raw.
func kind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// Encode returns the AWS CLI cache file of creds and user (nil for a
// GetSessionToken session). creds needs an access key ID, secret key,
// session token and Expires; Expires is written in whole seconds, as
// botocore writes it, so that the entry expires at most a second early,
// never late. Credentials.AccountId is creds.AccountID, or the account of
// user's ARN, as botocore's _add_account_id_to_response writes it. Encode
// refuses what [Decode] would refuse, so that what it writes can be read
// back.
func Encode(creds aws.Credentials, user *types.AssumedRoleUser) ([]byte, error) {
	var missing []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"AccessKeyID", creds.AccessKeyID != ""},
		{"SecretAccessKey", creds.SecretAccessKey != ""},
		{"SessionToken", creds.SessionToken != ""},
		{"Expires", !creds.Expires.IsZero()},
	} {
		if !f.set {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("cannot cache credentials without %s", strings.Join(missing, ", "))
	}
	f := file{Credentials: fileCredentials{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
		Expiration:      creds.Expires.UTC().Format(expirationLayout),
		AccountID:       creds.AccountID,
	}}
	if user != nil {
		f.AssumedRoleUser = &fileAssumedRoleUser{
			AssumedRoleID: aws.ToString(user.AssumedRoleId),
			Arn:           aws.ToString(user.Arn),
		}
		if f.Credentials.AccountID == "" {
			f.Credentials.AccountID = AccountOf(f.AssumedRoleUser.Arn)
		}
	}
	data, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encoding the cache entry: %w", err)
	}
	if _, _, err := Decode(data); err != nil {
		return nil, fmt.Errorf("cannot cache these credentials: %w", err)
	}
	return data, nil
}

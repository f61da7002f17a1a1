package rediscache

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stschain/stschain"
)

// The value format.
//
// A value is
//
//	version (1 byte, formatV1) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)
//
// sealed with AES-256-GCM under a random nonce, with the version byte and
// the Redis key name as additional data: a value copied under another name
// does not open, nor does one whose version byte was changed. The
// plaintext is the JSON of sealedEntry. A later format gets another
// version byte, so that a reader tells it from a damaged value.
const formatV1 byte = 1

// sealedEntry is the plaintext of a value.
type sealedEntry struct {
	AccessKeyID     string      `json:"AccessKeyId"`
	SecretAccessKey string      `json:"SecretAccessKey"`
	SessionToken    string      `json:"SessionToken"`
	Expires         time.Time   `json:"Expiration"`
	AccountID       string      `json:"AccountId,omitempty"`
	AssumedRoleUser *sealedUser `json:"AssumedRoleUser,omitempty"`
}

type sealedUser struct {
	Arn           string `json:"Arn"`
	AssumedRoleID string `json:"AssumedRoleId"`
}

// additionalData binds a value to its format version and key name.
func additionalData(version byte, name string) []byte {
	return append([]byte{version}, name...)
}

// seal returns the value of entry under the key name.
func (c *Cache) seal(name string, entry stschain.CacheEntry) ([]byte, error) {
	cr := entry.Credentials
	se := sealedEntry{
		AccessKeyID:     cr.AccessKeyID,
		SecretAccessKey: cr.SecretAccessKey,
		SessionToken:    cr.SessionToken,
		Expires:         cr.Expires.UTC(),
		AccountID:       cr.AccountID,
	}
	if u := entry.AssumedRoleUser; u != nil {
		se.AssumedRoleUser = &sealedUser{Arn: aws.ToString(u.Arn), AssumedRoleID: aws.ToString(u.AssumedRoleId)}
	}
	plain, err := json.Marshal(se)
	if err != nil {
		return nil, fmt.Errorf("rediscache: encoding entry %s: %w", name, err)
	}
	out := make([]byte, 1, 1+c.aead.Overhead()+len(plain))
	out[0] = formatV1
	return c.aead.Seal(out, nil, plain, additionalData(formatV1, name)), nil
}

// open returns the entry a value under the key name holds. Its errors say
// what is wrong, never what the value holds.
func (c *Cache) open(name string, val []byte) (stschain.CacheEntry, error) {
	minLen := 1 + c.aead.Overhead()
	switch {
	case len(val) == 0:
		return stschain.CacheEntry{}, errors.New("the value is empty")
	case len(val) > maxEntrySize:
		return stschain.CacheEntry{}, fmt.Errorf("the value is %d bytes, more than an entry can be (%d)", len(val), maxEntrySize)
	case val[0] != formatV1:
		return stschain.CacheEntry{}, fmt.Errorf("the value does not start with format version %d (its first byte is 0x%02x): it was not written by this package, or by a later version of it", formatV1, val[0])
	case len(val) < minLen:
		return stschain.CacheEntry{}, fmt.Errorf("the value is %d bytes, shorter than any sealed entry (%d): truncated", len(val), minLen)
	}
	plain, err := c.aead.Open(nil, nil, val[1:], additionalData(val[0], name))
	if err != nil {
		return stschain.CacheEntry{}, errors.New("the value does not open: it was sealed with another key, changed, truncated, or copied from another key name")
	}
	var se sealedEntry
	if err := json.Unmarshal(plain, &se); err != nil {
		// The plaintext holds secrets: say where it is wrong, not what
		// is there.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return stschain.CacheEntry{}, fmt.Errorf("the sealed entry is not valid JSON (error at byte %d of %d)", syn.Offset, len(plain))
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return stschain.CacheEntry{}, fmt.Errorf("the sealed entry is malformed: %s is a JSON %s", typ.Field, typ.Value)
		}
		return stschain.CacheEntry{}, errors.New("the sealed entry is malformed")
	}
	var missing []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"AccessKeyId", se.AccessKeyID != ""},
		{"SecretAccessKey", se.SecretAccessKey != ""},
		{"SessionToken", se.SessionToken != ""},
		{"Expiration", !se.Expires.IsZero()},
	} {
		if !f.set {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return stschain.CacheEntry{}, fmt.Errorf("the sealed entry has no %s", strings.Join(missing, ", "))
	}
	entry := stschain.CacheEntry{Credentials: aws.Credentials{
		AccessKeyID:     se.AccessKeyID,
		SecretAccessKey: se.SecretAccessKey,
		SessionToken:    se.SessionToken,
		CanExpire:       true,
		Expires:         se.Expires,
		AccountID:       se.AccountID,
	}}
	if u := se.AssumedRoleUser; u != nil {
		entry.AssumedRoleUser = &types.AssumedRoleUser{Arn: aws.String(u.Arn), AssumedRoleId: aws.String(u.AssumedRoleID)}
	}
	return entry, nil
}

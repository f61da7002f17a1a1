package keyring

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/stschain/stschain/internal/credcheck"
	"github.com/stschain/stschain/internal/redact"
)

// Keys are an IAM user's long-term access keys: what a keyring item holds.
// Make them with [NewKeys]; the zero value holds no keys.
//
// No fmt verb, log/slog value or JSON encoding of Keys shows the secret
// access key, nor more than the last four characters of the access key ID
// (as "aws configure list" shows them): String, GoString, Format, LogValue
// and MarshalJSON all redact, and each key sits behind a pointer to a
// string, of which fmt shows only the address where it prints fields
// without their methods (%p of a value, a field fmt cannot reach, a verb
// that does not suit a pointer).
type Keys struct {
	pair *keyPair // nil in the zero value; never changed once made
}

// keyPair holds pointers, not strings: fmt prints a pointer to a struct
// that a verb does not suit (%s, %t ...) as the struct's fields, but a
// pointer to a string as its address.
type keyPair struct{ id, secret *string }

// NewKeys returns the keys made of an access key ID and a secret access
// key, as given: [Keys.Validate] checks their shape.
func NewKeys(accessKeyID, secretAccessKey string) Keys {
	return Keys{&keyPair{&accessKeyID, &secretAccessKey}}
}

// AccessKeyID returns the access key ID, such as AKIAIOSFODNN7EXAMPLE.
func (k Keys) AccessKeyID() string {
	if k.pair == nil {
		return ""
	}
	return *k.pair.id
}

// SecretAccessKey returns the secret access key.
func (k Keys) SecretAccessKey() string {
	if k.pair == nil {
		return ""
	}
	return *k.pair.secret
}

// Bounds of the key shapes [Keys.Validate] accepts. IAM's access key IDs
// are 16 to 128 characters; its secret access keys are 40.
const (
	MinAccessKeyIDLength = credcheck.MinAccessKeyIDLength
	MaxAccessKeyIDLength = credcheck.MaxAccessKeyIDLength
	MaxSecretKeyLength   = 128
)

// Validate reports whether k has the shape of an IAM user's long-term
// keys: an access key ID of 16 to 128 upper-case letters and digits that
// is not a temporary one (ASIA...), and a secret access key of at most 128
// characters of the base64 alphabet (A-Z, a-z, 0-9, +, / and =). Its error
// matches [ErrInvalidKeys] and says what is wrong without quoting either
// key: a secret pasted where the access key ID belongs must not end up on
// the screen or in a log.
func (k Keys) Validate() error {
	if p := checkKeys(k); p != "" {
		return fmt.Errorf("keyring: invalid keys: %w", &problem{ErrInvalidKeys, p})
	}
	return nil
}

// checkKeys says what is wrong with k, "" when nothing is.
func checkKeys(k Keys) string {
	id, secret := k.AccessKeyID(), k.SecretAccessKey()
	switch {
	case id == "":
		return "the access key ID is empty"
	case !credcheck.AccessKeyID(id):
		hint := ""
		if credcheck.Base64(id) && strings.ContainsAny(id, "abcdefghijklmnopqrstuvwxyz+/") {
			hint = " (is it the secret access key?)"
		}
		return fmt.Sprintf("the access key ID (%d characters) is not one%s: want %d to %d upper-case letters and digits, such as AKIAIOSFODNN7EXAMPLE",
			len(id), hint, MinAccessKeyIDLength, MaxAccessKeyIDLength)
	case strings.HasPrefix(id, "ASIA"):
		return "the access key ID starts with ASIA: it belongs to temporary credentials, which need their session token; a keyring keeps an IAM user's long-term keys (AKIA...)"
	case secret == "":
		return "the secret access key is empty"
	case len(secret) > MaxSecretKeyLength:
		return fmt.Sprintf("the secret access key has %d characters, want at most %d (an IAM secret access key has 40; is it a session token?)",
			len(secret), MaxSecretKeyLength)
	case !credcheck.Base64(secret):
		return fmt.Sprintf("the secret access key (%d characters) holds a character outside the base64 alphabet: want A-Z, a-z, 0-9, +, / and =",
			len(secret))
	}
	return ""
}

// MaskedAccessKeyID is the access key ID as "aws configure list" shows
// it: its last four characters, the others as stars.
func (k Keys) MaskedAccessKeyID() string {
	id := k.AccessKeyID()
	if len(id) <= 4 {
		return strings.Repeat("*", len(id))
	}
	return strings.Repeat("*", len(id)-4) + id[len(id)-4:]
}

// String shows the masked access key ID and whether there is a secret.
func (k Keys) String() string {
	secret := "none"
	if k.SecretAccessKey() != "" {
		secret = "redacted"
	}
	return "keyring.Keys{AccessKeyID: " + k.MaskedAccessKeyID() + ", SecretAccessKey: " + secret + "}"
}

// GoString is String, so that %#v shows no secret either.
func (k Keys) GoString() string { return k.String() }

// Format prints String for every verb, %q quoting it.
func (k Keys) Format(f fmt.State, verb rune) { redact.Format(f, verb, k.String()) }

// LogValue is the masked access key ID.
func (k Keys) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key_id", k.MaskedAccessKeyID()), slog.Bool("secret_access_key", k.SecretAccessKey() != ""))
}

// MarshalJSON encodes the masked access key ID only.
func (k Keys) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccessKeyID     string
		SecretAccessKey string
	}{k.MaskedAccessKeyID(), "redacted"})
}

// itemData is the JSON of an item: the fields of aws.Credentials that
// aws-vault writes and reads (json.Marshal of an aws.Credentials, whose
// field names it keeps), so that each program reads the other's items.
type itemData struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string `json:",omitempty"`
}

// encodeItem is the data of an item holding k.
func encodeItem(k Keys) ([]byte, error) {
	return json.Marshal(itemData{AccessKeyID: k.AccessKeyID(), SecretAccessKey: k.SecretAccessKey()})
}

// decodeItem reads the keys of an item. Its errors never quote the data,
// nor the JSON decoder's message, which can.
func decodeItem(data []byte) (Keys, error) {
	var d itemData
	if err := json.Unmarshal(data, &d); err != nil {
		return Keys{}, &problem{ErrInvalidItem, "the item is not the JSON of a pair of keys"}
	}
	if d.SessionToken != "" {
		return Keys{}, &problem{ErrInvalidItem, "the item holds a session token, and a keyring keeps long-term keys only"}
	}
	k := NewKeys(d.AccessKeyID, d.SecretAccessKey)
	if p := checkKeys(k); p != "" {
		return Keys{}, &problem{ErrInvalidItem, "the item's keys are not valid: " + p}
	}
	return k, nil
}

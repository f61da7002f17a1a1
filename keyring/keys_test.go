package keyring

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testID     = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		keys  Keys
		error string // "" for valid keys
	}{
		{"valid", NewKeys(testID, testSecret), ""},
		{"longest", NewKeys(strings.Repeat("A", 128), strings.Repeat("a", 128)), ""},
		{"no id", NewKeys("", testSecret), "the access key ID is empty"},
		{"short id", NewKeys("AKIA123", testSecret), "the access key ID (7 characters) is not one: want 16 to 128"},
		{"long id", NewKeys(strings.Repeat("A", 129), testSecret), "(129 characters) is not one"},
		{"lower-case id", NewKeys("akiaiosfodnn7example", testSecret), "is not one (is it the secret access key?)"},
		{"secret as id", NewKeys(testSecret, testSecret), "(40 characters) is not one (is it the secret access key?)"},
		{"id with a space", NewKeys("AKIAIOSFODNN7 EXAMPLE", testSecret), "(21 characters) is not one: want"},
		{"temporary id", NewKeys("ASIAIOSFODNN7EXAMPLE", testSecret), "starts with ASIA"},
		{"no secret", NewKeys(testID, ""), "the secret access key is empty"},
		{"token as secret", NewKeys(testID, strings.Repeat("A", 400)), "has 400 characters, want at most 128"},
		{"secret with a space", NewKeys(testID, "wJalrXUtnFEMI K7MDENG"), "(21 characters) holds a character outside the base64 alphabet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.keys.Validate()
			if tc.error == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidKeys)
			assert.Contains(t, err.Error(), tc.error)
			assert.True(t, strings.HasPrefix(err.Error(), "keyring: invalid keys: "), err.Error())
			assert.Equal(t, 1, strings.Count(err.Error(), "keyring:"), err.Error())
			for _, s := range []string{tc.keys.AccessKeyID(), tc.keys.SecretAccessKey()} {
				if len(s) > 4 {
					assert.NotContains(t, err.Error(), s, "the error quotes a key")
				}
			}
		})
	}
}

func TestKeysRedacted(t *testing.T) {
	k := NewKeys(testID, testSecret)
	assert.Equal(t, "keyring.Keys{AccessKeyID: ****************MPLE, SecretAccessKey: redacted}", k.String())
	assert.Equal(t, `"keyring.Keys{AccessKeyID: ****************MPLE, SecretAccessKey: redacted}"`, fmt.Sprintf("%q", k))
	j, err := json.Marshal(k)
	require.NoError(t, err)
	assert.JSONEq(t, `{"AccessKeyID":"****************MPLE","SecretAccessKey":"redacted"}`, string(j))
	assert.Equal(t, "keyring.Keys{AccessKeyID: **, SecretAccessKey: none}", NewKeys("AB", "").String())
}

// The item's JSON is aws-vault's: json.Marshal of an aws.Credentials, read
// back by json.Unmarshal into one, as aws-vault's CredentialKeyring does;
// and aws-vault's items read as ours.
func TestItemFormatIsAWSVaults(t *testing.T) {
	data, err := encodeItem(NewKeys(testID, testSecret))
	require.NoError(t, err)
	var c aws.Credentials
	require.NoError(t, json.Unmarshal(data, &c))
	assert.Equal(t, aws.Credentials{AccessKeyID: testID, SecretAccessKey: testSecret}, c)

	theirs, err := json.Marshal(aws.Credentials{AccessKeyID: testID, SecretAccessKey: testSecret})
	require.NoError(t, err)
	k, err := decodeItem(theirs)
	require.NoError(t, err)
	assert.Equal(t, NewKeys(testID, testSecret), k)
}

func TestDecodeItemRefuses(t *testing.T) {
	for _, tc := range []struct{ name, data, error string }{
		{"not JSON", "x" + testSecret, "not the JSON of a pair of keys"},
		{"a string", `"` + testSecret + `"`, "not the JSON of a pair of keys"},
		{"session", `{"AccessKeyID":"ASIAIOSFODNN7EXAMPLE","SecretAccessKey":"` + testSecret + `","SessionToken":"tok"}`, "holds a session token"},
		{"no secret", `{"AccessKeyID":"` + testID + `"}`, "the item's keys are not valid: the secret access key is empty"},
		{"empty", `{}`, "the access key ID is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeItem([]byte(tc.data))
			require.ErrorIs(t, err, ErrInvalidItem)
			assert.Contains(t, err.Error(), tc.error)
			assert.NotContains(t, err.Error(), testSecret)
		})
	}
}

package credserver_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMalformedCredentials: credentials no AWS service issues, which a
// client could put in a shell or a header, are answered with an error
// naming the field, never with the value.
func TestMalformedCredentials(t *testing.T) {
	good := fixedCreds()
	for _, tc := range []struct {
		name, field, value string
		edit               func(*aws.Credentials, string)
	}{
		{"short access key", "AccessKeyId", "ASIA12345", func(c *aws.Credentials, v string) { c.AccessKeyID = v }},
		{"long access key", "AccessKeyId", "ASIA" + strings.Repeat("A", 125), func(c *aws.Credentials, v string) { c.AccessKeyID = v }},
		{"lower-case access key", "AccessKeyId", "asiaexample000000", func(c *aws.Credentials, v string) { c.AccessKeyID = v }},
		{"command in the access key", "AccessKeyId", "ASIAEXAMPLE0$(id)", func(c *aws.Credentials, v string) { c.AccessKeyID = v }},
		{"newline in the secret", "SecretAccessKey", "abc\nexport X=1", func(c *aws.Credentials, v string) { c.SecretAccessKey = v }},
		{"quote in the secret", "SecretAccessKey", `abc"; rm -rf ~; "`, func(c *aws.Credentials, v string) { c.SecretAccessKey = v }},
		{"backtick in the token", "SessionToken", "IQoJ`id`", func(c *aws.Credentials, v string) { c.SessionToken = v }},
		{"XML newline in the token", "SessionToken", "IQoJ&#10;id", func(c *aws.Credentials, v string) { c.SessionToken = v }},
		{"escape in the token", "SessionToken", "IQoJ\x1b[2J", func(c *aws.Credentials, v string) { c.SessionToken = v }},
		{"URL base64 in the token", "SessionToken", "IQoJb3JpZ2luX2Vj-_==", func(c *aws.Credentials, v string) { c.SessionToken = v }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := good
			tc.edit(&creds, tc.value)
			uri, tok := env(t, start(t, &countingProvider{creds: creds}))
			status, _, body := get(t, uri, tok)
			assert.Equal(t, http.StatusInternalServerError, status)
			var e struct{ Code, Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			assert.Equal(t, "CredentialsUnavailable", e.Code)
			assert.Contains(t, e.Message, "malformed credentials: "+tc.field+" is not ")
			assert.NotContains(t, body, secret)
			assert.NotContains(t, body, tc.value)
			assert.NotContains(t, body, "ASIAFIXED")
		})
	}

	// What AWS issues passes: base64 with padding, and long-term keys
	// without a token.
	for _, c := range []aws.Credentials{
		{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		{AccessKeyID: "ASIA" + strings.Repeat("Z", 124), SecretAccessKey: "a+b/c=", SessionToken: "IQoJb3JpZ2luX2Vj+/=="},
	} {
		uri, tok := env(t, start(t, &countingProvider{creds: c}))
		status, _, body := get(t, uri, tok)
		assert.Equal(t, http.StatusOK, status, body)
	}
}

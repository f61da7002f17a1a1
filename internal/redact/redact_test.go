package redact

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

type secretHolder struct{ secret string }

func (secretHolder) String() string                  { return "holder{redacted}" }
func (h secretHolder) Format(f fmt.State, verb rune) { Format(f, verb, h.String()) }

func TestFormat(t *testing.T) {
	h := secretHolder{secret: "s3cr3t"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%t", "%o", "%b", "%e", "%c", "%U", "%10v", "%-10s"} {
		assert.Equal(t, "holder{redacted}", fmt.Sprintf(verb, h), verb)
	}
	assert.Equal(t, `"holder{redacted}"`, fmt.Sprintf("%q", h))
	assert.Equal(t, "[holder{redacted}]", fmt.Sprintf("%v", []secretHolder{h}))
}

func TestMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"SecretAccessKey":"abc","AccessKeyId":"AKIA"}`, `{"SecretAccessKey":"[redacted]","AccessKeyId":"AKIA"}`},
		{`{"Token": "abc\"def"}`, `{"Token": "[redacted]"}`},
		{`{"SessionToken": "unterminated`, `{"SessionToken": "[redacted]"`},
		{`aws_secret_access_key = abc def`, `aws_secret_access_key = [redacted] def`},
		{`AWS_SESSION_TOKEN='a b'`, `AWS_SESSION_TOKEN=[redacted]`},
		{`session_token is missing`, `session_token is missing`},
		{`nothing here`, `nothing here`},
	} {
		assert.Equal(t, tc.want, Message(tc.in), tc.in)
	}
	assert.Equal(t, "key [redacted] refused", Message("key s3cr3t refused", "s3cr3t", "", "ab"))
}

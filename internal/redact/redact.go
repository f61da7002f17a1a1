// Package redact keeps secrets (keys, tokens, passphrases, TOTP seeds)
// out of what the module prints. [Format] is the one rule by which its
// types that hold a secret print themselves: each has a String that shows
// no secret, and a Format that prints that String for every verb, so that
// no verb (%v, %+v, %#v, %d, %x, %s ...) reaches the fields behind it.
// [Message] takes secrets out of messages others wrote.
package redact

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Format writes s to f for verb: quoted as a Go string for %q, as it is
// for any other verb. A type's Format method calls it with the type's
// String.
func Format(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = f.Write([]byte(s))
}

// Text replaces a secret in messages and logs.
const Text = "[redacted]"

// secretPatterns match secret-shaped values: the value of a JSON member
// that holds a secret (as the output of a credential_process or an
// endpoint's answer quoted in an error holds it), and NAME=value or NAME:
// value forms of the same names and of the AWS environment variables.
// They are compiled on the first redaction, not at init.
var secretPatterns = sync.OnceValue(func() (p struct{ jsonValue, assigned *regexp.Regexp }) {
	p.jsonValue = regexp.MustCompile(`(?i)("(?:SecretAccessKey|SessionToken|Token|SecretKey|AccessToken|RefreshToken|ClientSecret|Password)"\s*:\s*)"(?:[^"\\]|\\.)*"?`)
	p.assigned = regexp.MustCompile(`(?i)(\b(?:aws_secret_access_key|aws_session_token|aws_security_token|secret_?access_?key|session_?token)\b\s*[=:]\s*)(?:"[^"]*"?|'[^']*'?|[^\s,;}]+)`)
	return p
})

// Message returns msg, a message someone else wrote (an error's, a log
// line's), with secret-shaped values and every one of secrets of four
// characters or more replaced by Text.
func Message(msg string, secrets ...string) string {
	p := secretPatterns()
	msg = p.jsonValue.ReplaceAllString(msg, `$1"`+Text+`"`)
	msg = p.assigned.ReplaceAllString(msg, `${1}`+Text)
	for _, s := range secrets {
		if len(s) >= 4 { // shorter "secrets" would mangle the message
			msg = strings.ReplaceAll(msg, s, Text)
		}
	}
	return msg
}

package credcheck

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Values of the shapes AWS issues: the AWS documentation's example keys
// and a token of STS's regional endpoints.
const (
	exampleKeyID  = "ASIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	exampleToken  = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+k2fVn5g=="
)

func TestCheckAcceptsWhatAWSIssues(t *testing.T) {
	assert.NoError(t, Check(exampleKeyID, exampleSecret, exampleToken))
	assert.NoError(t, Check("AKIAIOSFODNN7EXAMPLE", exampleSecret, ""), "long-term keys have no token")
	assert.NoError(t, Check(strings.Repeat("A", 16), "s", "t"), "the shortest access key ID")
	assert.NoError(t, Check(strings.Repeat("9", 128), "s", "t"), "the longest access key ID")
}

// Each refusal names the field and what is valid, and never the value.
func TestCheckRefusesOtherShapes(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		keyID, secret, token string
		field                string
	}{
		{"short key ID", "ASIA123", exampleSecret, exampleToken, "AccessKeyId"},
		{"long key ID", strings.Repeat("A", 129), exampleSecret, exampleToken, "AccessKeyId"},
		{"lower-case key ID", "asiaiosfodnn7example", exampleSecret, exampleToken, "AccessKeyId"},
		{"command in key ID", "ASIA$(touch /tmp/x)AB", exampleSecret, exampleToken, "AccessKeyId"},
		{"empty key ID", "", exampleSecret, exampleToken, "AccessKeyId"},
		{"empty secret", exampleKeyID, "", exampleToken, "SecretAccessKey"},
		{"semicolon in secret", exampleKeyID, "abc;rm -rf ~", exampleToken, "SecretAccessKey"},
		{"newline in secret", exampleKeyID, "abc\nexport X=1", exampleToken, "SecretAccessKey"},
		{"backtick in token", exampleKeyID, exampleSecret, "abc`id`", "SessionToken"},
		{"quote in token", exampleKeyID, exampleSecret, "abc'", "SessionToken"},
		{"URL alphabet in token", exampleKeyID, exampleSecret, "abc-_", "SessionToken"},
		{"NUL in token", exampleKeyID, exampleSecret, "abc\x00", "SessionToken"},
		{"non-ASCII in token", exampleKeyID, exampleSecret, "abcé", "SessionToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.keyID, tc.secret, tc.token)
			require.Error(t, err)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, tc.field, ce.Field)
			assert.True(t, strings.HasPrefix(err.Error(), tc.field+" is not "), err.Error())
			for _, v := range []string{tc.keyID, tc.secret, tc.token} {
				if len(v) >= 4 {
					assert.NotContains(t, err.Error(), v, "the error quotes no value")
				}
			}
		})
	}
}

// The hand-written loops agree with the patterns they stand for.
func TestChecksMatchTheirPatterns(t *testing.T) {
	keyID := regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	b64 := regexp.MustCompile(`^[A-Za-z0-9+/=]*$`)
	inputs := []string{"", "A", strings.Repeat("A", 15), strings.Repeat("Z", 16), strings.Repeat("0", 128),
		strings.Repeat("0", 129), exampleKeyID, exampleSecret, exampleToken, "a+b/c=", "a-b", "a_b", "a b", "é"}
	for c := 0; c < 256; c++ {
		inputs = append(inputs, strings.Repeat("A", 15)+string(rune(c)), string([]byte{byte(c)}))
	}
	for _, s := range inputs {
		assert.Equal(t, keyID.MatchString(s), AccessKeyID(s), "AccessKeyID(%q)", s)
		assert.Equal(t, b64.MatchString(s), Base64(s), "Base64(%q)", s)
	}
}

func FuzzChecksMatchTheirPatterns(f *testing.F) {
	keyID := regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	b64 := regexp.MustCompile(`^[A-Za-z0-9+/=]*$`)
	for _, s := range []string{exampleKeyID, exampleSecret, exampleToken, "a-b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if keyID.MatchString(s) != AccessKeyID(s) || b64.MatchString(s) != Base64(s) {
			t.Fatalf("the checks disagree with their patterns on %q", s)
		}
	})
}

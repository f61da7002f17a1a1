package credserver

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Lengths of an access key ID, as IAM and STS give them.
const (
	minAccessKeyID = 16
	maxAccessKeyID = 128
)

// checkShape returns an error naming the first field of c that no AWS
// credentials have, nil when every field could be AWS's: the access key ID
// is 16 to 128 upper-case letters and digits, the secret key and session
// token hold only characters of the base64 alphabets (standard and URL).
// A client may put these values in a shell, a file or a header; the error
// says what is wrong and never shows the value.
func checkShape(c aws.Credentials) error {
	if n := len(c.AccessKeyID); n < minAccessKeyID || n > maxAccessKeyID || !all(c.AccessKeyID, isUpperAlnum) {
		return fmt.Errorf("malformed AccessKeyId: want %d to %d upper-case letters and digits", minAccessKeyID, maxAccessKeyID)
	}
	if !all(c.SecretAccessKey, isBase64) {
		return fmt.Errorf("malformed SecretAccessKey: want characters of the base64 alphabet")
	}
	if !all(c.SessionToken, isBase64) {
		return fmt.Errorf("malformed session token: want characters of the base64 alphabet")
	}
	return nil
}

func all(s string, ok func(byte) bool) bool {
	for i := range len(s) {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isUpperAlnum(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// isBase64 reports whether c is in the standard or the URL base64
// alphabet, padding included.
func isBase64(c byte) bool {
	return isUpperAlnum(c) || c >= 'a' && c <= 'z' || c == '+' || c == '/' || c == '-' || c == '_' || c == '='
}

// Package credcheck checks the shape of AWS credentials that come from
// outside the process (an STS answer, a cache entry, a credential_process's
// output) before anything uses them: an access key ID is 16 to 128
// upper-case letters and digits, and a secret access key or session token
// is made of the base64 alphabet (A-Z, a-z, 0-9, +, / and =). Values of
// any other shape are no credentials AWS issued, and may be built to do
// harm where they are printed: a shell command in an export line, a
// newline in a header.
//
// The checks are loops over bytes, with nothing to set up, so that the
// package costs nothing at init. Its errors name the field, never its
// value.
package credcheck

// Access key ID lengths AWS allows (the IAM and STS API references:
// AccessKeyId, minimum 16 and maximum 128 characters).
const (
	MinAccessKeyIDLength = 16
	MaxAccessKeyIDLength = 128
)

// Error says which field of a set of credentials has the wrong shape. Its
// message names the field and what is valid, never the value.
type Error struct {
	Field string // the field as the source names it: AccessKeyId, SecretAccessKey, SessionToken
	want  string // what a valid value is
}

func (e *Error) Error() string { return e.Field + " is not " + e.want }

// What valid values are, for errors.
const (
	wantAccessKeyID = "an AWS access key ID (16 to 128 upper-case letters and digits)"
	wantBase64      = "made of the base64 alphabet (A-Z, a-z, 0-9, +, / and =)"
)

// AccessKeyID reports whether s has the shape of an AWS access key ID:
// 16 to 128 of A-Z and 0-9.
func AccessKeyID(s string) bool {
	if len(s) < MinAccessKeyIDLength || len(s) > MaxAccessKeyIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Base64 reports whether s is made of the base64 alphabet: A-Z, a-z, 0-9,
// + / and =. The empty string is.
func Base64(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// Check returns nil when the access key ID, secret access key and session
// token have the shapes AWS issues, and otherwise an *Error naming the
// first field that does not. An empty session token (long-term keys) is
// valid; whether one is required is the caller's business.
func Check(accessKeyID, secretAccessKey, sessionToken string) error {
	switch {
	case !AccessKeyID(accessKeyID):
		return &Error{Field: "AccessKeyId", want: wantAccessKeyID}
	case secretAccessKey == "":
		return &Error{Field: "SecretAccessKey", want: "set"}
	case !Base64(secretAccessKey):
		return &Error{Field: "SecretAccessKey", want: wantBase64}
	case !Base64(sessionToken):
		return &Error{Field: "SessionToken", want: wantBase64}
	}
	return nil
}

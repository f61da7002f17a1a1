// Package mfacode holds what the module's MFA sources share: the shape of
// a code, and how much of a program's output is read for one (an
// mfa_process, a dialog, ykman).
package mfacode

// Valid reports whether s is an MFA code as a device shows it: six
// digits.
func Valid(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MaxOutput bounds what Output keeps: a code is six digits, and a program
// that prints more than a few lines is not printing one.
const MaxOutput = 4096

// Output is the standard output of a program that prints a code: it keeps
// the first MaxOutput bytes written to it and takes the rest without
// keeping it, so that the program is never stopped by a short write or
// blocked on a full pipe. The zero value is ready to use.
type Output struct {
	b        []byte
	overflow bool
}

// Write keeps what fits and reports everything written.
func (o *Output) Write(p []byte) (int, error) {
	n := len(p)
	if room := MaxOutput - len(o.b); room < n {
		o.overflow = true
		p = p[:max(room, 0)]
	}
	o.b = append(o.b, p...)
	return n, nil
}

// String returns what was kept.
func (o *Output) String() string { return string(o.b) }

// Overflow reports whether more than MaxOutput bytes were written.
func (o *Output) Overflow() bool { return o.overflow }

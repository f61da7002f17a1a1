package ststest

import (
	"crypto/subtle"
	"slices"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpStep is the RFC 6238 time step.
const totpStep = 30 * time.Second

// totpOpts are the parameters of AWS virtual MFA devices.
var totpOpts = totp.ValidateOpts{
	Period:    uint(totpStep / time.Second),
	Skew:      0, // steps are tried one by one below, to remember which matched
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// checkMFA reports whether serial is u's device and code is a code of it
// that was not used before, and marks the code used. A TOTP code is
// accepted for the current step of the server clock and the steps before
// and after it. Used steps are forgotten once they are too old to match,
// so repeated MFA calls keep bounded state.
func (s *Server) checkMFA(u *User, serial, code string) bool {
	if u == nil || u.MFASerial == "" || serial != u.MFASerial || !isSixDigits(code) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range u.MFACodes {
		key := serial + "\x00" + c
		if subtle.ConstantTimeCompare([]byte(c), []byte(code)) == 1 && !s.usedCodes[key] {
			s.usedCodes[key] = true
			return true
		}
	}
	if u.TOTPSecret == "" {
		return false
	}
	now := s.nowLocked()
	current := now.Unix() / int64(totpStep/time.Second)
	s.usedSteps[serial] = slices.DeleteFunc(s.usedSteps[serial], func(step int64) bool { return step < current-1 })
	for _, delta := range []int64{0, -1, 1} {
		step := current + delta
		want, err := totp.GenerateCodeCustom(u.TOTPSecret, time.Unix(step*int64(totpStep/time.Second), 0), totpOpts)
		if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if slices.Contains(s.usedSteps[serial], step) {
			return false
		}
		s.usedSteps[serial] = append(s.usedSteps[serial], step)
		return true
	}
	return false
}

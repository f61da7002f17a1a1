package ststest

import (
	"crypto/subtle"
	"strconv"
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
// and after it.
func (s *Server) checkMFA(u *User, serial, code string) bool {
	if u == nil || u.MFASerial == "" || serial != u.MFASerial || !isSixDigits(code) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range u.MFACodes {
		key := serial + "\x00code\x00" + c
		if subtle.ConstantTimeCompare([]byte(c), []byte(code)) == 1 && !s.usedMFA[key] {
			s.usedMFA[key] = true
			return true
		}
	}
	if u.TOTPSecret == "" {
		return false
	}
	now := s.nowLocked()
	for _, delta := range []time.Duration{0, -totpStep, totpStep} {
		t := now.Add(delta)
		want, err := totp.GenerateCodeCustom(u.TOTPSecret, t, totpOpts)
		if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		key := serial + "\x00step\x00" + strconv.FormatInt(t.Unix()/int64(totpStep/time.Second), 10)
		if s.usedMFA[key] {
			return false
		}
		s.usedMFA[key] = true
		return true
	}
	return false
}

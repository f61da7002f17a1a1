package ststest

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
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

// codeSpace is how many six-digit codes there are.
const codeSpace = 1_000_000

// TokenCode returns a new six-digit code of the MFA device whose serial
// number is serialNumber, as the device's user would read it off the
// device. Each call returns a code this server has not returned before,
// and never one of the user's [User.MFACodes]; the server accepts each
// code it returned once, besides MFACodes and TOTP codes.
//
// TokenCode has the signature of stschain.TokenCodeFunc, so a test or an
// example can write o.TokenCode = srv.TokenCode. It returns ctx's error
// when ctx is done, an error naming serialNumber when no user in
// [Config.Users] has that device, and an error once the server has
// returned all 1,000,000 codes.
func (s *Server) TokenCode(ctx context.Context, serialNumber string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !slices.ContainsFunc(s.cfg.Users, func(u User) bool { return u.MFASerial != "" && u.MFASerial == serialNumber }) {
		return "", fmt.Errorf("ststest: no user in Config.Users has the MFA device %q", serialNumber)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.returned == nil {
		s.returned = make([]uint64, (codeSpace+63)/64)
		for _, u := range s.cfg.Users {
			for _, c := range u.MFACodes {
				n, _ := strconv.Atoi(c) // six digits: Validate checked
				s.markReturned(n)
			}
		}
	}
	if s.nReturned == codeSpace {
		return "", errors.New("ststest: TokenCode has returned all 1,000,000 six-digit codes")
	}
	// Draw at random; when most codes are gone, take the next free one.
	n := int(randomInt(codeSpace))
	for i := 0; s.isReturned(n); i++ {
		if i < 64 {
			n = int(randomInt(codeSpace))
		} else {
			n = (n + 1) % codeSpace
		}
	}
	s.markReturned(n)
	code := fmt.Sprintf("%06d", n)
	s.handedOut[code] = serialNumber
	return code, nil
}

func (s *Server) isReturned(n int) bool { return s.returned[n/64]&(1<<(n%64)) != 0 }

func (s *Server) markReturned(n int) {
	if !s.isReturned(n) {
		s.returned[n/64] |= 1 << (n % 64)
		s.nReturned++
	}
}

// checkMFA reports whether serial is u's device and code is a code of it
// that was not used before, and marks the code used: one of MFACodes, one
// [Server.TokenCode] returned for the device, or a TOTP code. A TOTP code is
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
	if s.handedOut[code] == serial {
		delete(s.handedOut, code)
		return true
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

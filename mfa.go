package stschain

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/stschain/stschain/internal/mfacode"
	"github.com/stschain/stschain/internal/redact"
)

// TokenCodeFunc returns the current one-time code of the MFA device
// serialNumber. It is called before each STS call that needs a code and must
// honour ctx.
//
// STS refuses a code it has already accepted. When a TokenCodeFunc returns a
// code this process sent for the same device within the time STS would
// still refuse it, the provider calls it again (at most three times in all)
// with a context saying why; [PromptTokenCode] shows that reason to the user.
type TokenCodeFunc func(ctx context.Context, serialNumber string) (string, error)

// ErrTokenCodeReused is wrapped by the error of a provider whose
// TokenCodeFunc kept returning a code that this process had already sent to
// STS for the same device within the code's validity window: STS would
// refuse it, so it is not sent.
var ErrTokenCodeReused = errors.New("MFA token code already used; wait for the device's next code")

const (
	// totpStep is the time step of RFC 6238 codes, which STS uses.
	totpStep = 30 * time.Second

	// usedCodeSteps is how many steps, counted from the start of the step in
	// which a code was sent, the code is remembered. STS accepts a code for
	// one step either side of the step it belongs to (about 90 s in all),
	// and a code sent during step n may belong to step n-1, n or n+1 (device
	// clock behind or ahead), so STS could still be holding it as used until
	// the end of step n+2: three steps from the start of step n. Remembering
	// it shorter would let a reused code through; longer only makes a user
	// who typed the same code again wait for the next one.
	usedCodeSteps = 3

	// tokenCodeAttempts bounds the calls of a TokenCodeFunc that returns
	// used codes before ErrTokenCodeReused.
	tokenCodeAttempts = 3
)

// tokenCodeRetryKey is the context key of the reason, a string, for which
// the TokenCodeFunc is asked again.
type tokenCodeRetryKey struct{}

// tokenCodeRetryReason returns why fn is asked again, or "" on a first ask.
func tokenCodeRetryReason(ctx context.Context) string {
	reason, _ := ctx.Value(tokenCodeRetryKey{}).(string)
	return reason
}

// withRetryReason returns ctx carrying reason for a TokenCodeFunc asked
// again; ctx itself when reason is empty.
func withRetryReason(ctx context.Context, reason string) context.Context {
	if reason == "" {
		return ctx
	}
	return context.WithValue(ctx, tokenCodeRetryKey{}, reason)
}

// CodeGuard remembers, per MFA device, the codes sent to STS for as long as
// STS could refuse them again, so that no code is sent twice: a provider
// whose TokenCodeFunc returns a code already sent asks it again (with a
// reason that [PromptTokenCode] shows), up to three times, and then fails
// with [ErrTokenCodeReused]. It keeps a keyed hash of each code, never the
// code.
//
// The zero value is ready to use. Providers share a guard through
// [Options.CodeGuard]; those without one share the process's, which is
// right for codes a person types or a device shows (STS refuses a reused
// code whichever provider sent it). A CodeGuard must not be copied after
// first use. It is safe for concurrent use.
type CodeGuard struct {
	// state is made on first use. It sits behind an atomic.Pointer, which
	// fmt prints as an address under every verb, so that no verb applied
	// to a CodeGuard shows its key or hashes.
	state atomic.Pointer[guardState]
}

type guardState struct {
	mu   sync.Mutex
	key  []byte                     // HMAC key, random; immutable
	sent map[string][]sentTokenCode // by serial number; guarded by mu
}

type sentTokenCode struct {
	mac   [sha256.Size]byte // HMAC-SHA256 of the code
	until time.Time         // when STS can no longer hold it as used
}

// processCodeGuard is the guard of providers that set none.
var processCodeGuard CodeGuard

// String describes the guard without its key or hashes.
func (g *CodeGuard) String() string {
	st := g.get()
	st.mu.Lock()
	defer st.mu.Unlock()
	return fmt.Sprintf("stschain.CodeGuard{%d devices}", len(st.sent))
}

// get returns the guard's state, made on first use.
func (g *CodeGuard) get() *guardState {
	if st := g.state.Load(); st != nil {
		return st
	}
	st := &guardState{key: make([]byte, 32), sent: map[string][]sentTokenCode{}}
	_, _ = rand.Read(st.key) // never fails (crypto/rand, Go 1.24+)
	if g.state.CompareAndSwap(nil, st) {
		return st
	}
	return g.state.Load()
}

// Format prints String() for every verb.
func (g *CodeGuard) Format(f fmt.State, verb rune) { redact.Format(f, verb, g.String()) }

// claim records that code is being sent for serial at now. It returns false,
// recording nothing, when the code was already sent and may still count as
// used at STS.
func (g *CodeGuard) claim(serial, code string, now time.Time) bool {
	st := g.get()
	st.mu.Lock()
	defer st.mu.Unlock()
	h := hmac.New(sha256.New, st.key)
	h.Write([]byte(code))
	var mac [sha256.Size]byte
	h.Sum(mac[:0])

	// Drop every expired entry: the map stays as small as the number of
	// devices used in the last 90 seconds.
	for s, codes := range st.sent {
		kept := codes[:0]
		for _, c := range codes {
			if now.Before(c.until) {
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			delete(st.sent, s)
		} else {
			st.sent[s] = kept
		}
	}
	for _, c := range st.sent[serial] {
		if hmac.Equal(c.mac[:], mac[:]) {
			return false
		}
	}
	stepStart := now.Truncate(totpStep) // steps count from the Unix epoch, as Truncate does
	st.sent[serial] = append(st.sent[serial], sentTokenCode{mac: mac, until: stepStart.Add(usedCodeSteps * totpStep)})
	return true
}

// fetch asks fn for the code of serial and returns it, trimmed, once it is
// 6 digits and not already sent for serial (see usedCodeSteps). A used code
// makes it ask again with a context giving the reason, up to
// tokenCodeAttempts times, then fail with ErrTokenCodeReused. Its errors
// name the device once and never hold the code.
func (g *CodeGuard) fetch(ctx context.Context, fn TokenCodeFunc, serial string) (string, error) {
	callCtx := ctx
	for attempt := 1; ; attempt++ {
		code, err := fn(callCtx, serial)
		if err != nil {
			if strings.Contains(err.Error(), serial) { // PromptTokenCode's, say
				return "", err
			}
			return "", wrapError(err, "device %s", serial)
		}
		code = strings.TrimSpace(code)
		if err := checkTokenCode(code); err != nil {
			return "", wrapError(err, "device %s", serial)
		}
		if g.claim(serial, code, time.Now()) {
			return code, nil
		}
		if attempt == tokenCodeAttempts {
			return "", wrapError(ErrTokenCodeReused, "device %s: asked %d times", serial, attempt)
		}
		if err := ctx.Err(); err != nil {
			return "", wrapError(err, "device %s", serial)
		}
		callCtx = withRetryReason(ctx, "the last code for "+serial+" was already used; wait for the next code")
	}
}

// checkTokenCode says what is wrong with code, without showing it.
func checkTokenCode(code string) error {
	if code == "" {
		return errors.New("the MFA token code is empty: want 6 digits")
	}
	if !mfacode.Valid(code) {
		return errors.New("the MFA token code is not valid: want 6 digits")
	}
	return nil
}

// prompter asks one terminal for codes, one prompt at a time.
type prompter struct {
	sem chan struct{} // capacity 1; held by the prompting goroutine
}

func newPrompter() *prompter { return &prompter{sem: make(chan struct{}, 1)} }

// terminal is the prompter of the process's terminal, which PromptTokenCode
// asks: there is one, so two providers must never prompt on it at once.
var terminal = newPrompter()

// PromptTokenCode is a [TokenCodeFunc] that asks the user. It prompts on
// the controlling terminal, /dev/tty, and reads one line there; without a
// terminal it prompts on standard error and reads standard input. It never
// writes to standard output, which may be captured by $(...) or read as
// credential_process output, and it reaches the user even when standard
// error is captured (the AWS CLI keeps a credential_process's standard
// error until it fails). The input is echoed. The line, trimmed, must be 6
// digits; a line that is not is asked for again, up to three times in all.
//
// Prompts are serialised process-wide: a second caller waits, honouring its
// context, until the first has its answer. When ctx ends PromptTokenCode
// returns at once with an error wrapping ctx.Err(); a read from standard
// input, unlike one from the terminal, cannot be interrupted and consumes
// the next line typed.
func PromptTokenCode(ctx context.Context, serialNumber string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", errorf("prompting for the MFA code of %s: %w", serialNumber, err)
	}
	var in io.Reader = os.Stdin
	var out io.Writer = os.Stderr
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		// Closing the terminal also ends a read that ctx abandoned.
		defer tty.Close()
		in, out = tty, tty
	}
	return terminal.prompt(ctx, in, out, serialNumber)
}

// prompt is PromptTokenCode reading from in and prompting on out. Each read
// runs in a goroutine that ends when in returns, which the caller arranges
// (by closing in) when ctx ends first.
func (p *prompter) prompt(ctx context.Context, in io.Reader, out io.Writer, serial string) (string, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return "", errorf("waiting to prompt for the MFA code of %s: %w", serial, ctx.Err())
	}
	defer func() { <-p.sem }()
	if err := ctx.Err(); err != nil { // both select cases were ready
		return "", errorf("prompting for the MFA code of %s: %w", serial, err)
	}

	code, err := mfacode.Ask(ctx, in, out, serial, tokenCodeRetryReason(ctx))
	if err != nil {
		return "", &pkgError{err: err}
	}
	return code, nil
}

// TOTPTokenCode returns a [TokenCodeFunc] computing the RFC 6238 codes
// (HMAC-SHA1, 6 digits, 30-second steps, as AWS virtual MFA devices use) of
// base32Secret, the secret of a virtual MFA device (the "secret key" AWS
// shows when the device is created). Letter case, spaces and '=' padding in
// the secret are ignored. The secret is checked here; errors never show it.
// A secret that is refused gets "stschain: " and what is wrong with it, which
// [errors.Unwrap] of the error says alone.
//
// The function serves the one device whose secret it holds, whatever serial
// number it is given. It never returns the same code twice: when the
// current step's code was already returned, it waits for the next step,
// honouring its context. Calls are serialised.
func TOTPTokenCode(base32Secret string) (TokenCodeFunc, error) {
	secret, err := normaliseTOTPSecret(base32Secret)
	if err != nil {
		return nil, err
	}
	g := &totpGenerator{secret: secret, sem: make(chan struct{}, 1)}
	return g.code, nil
}

// normaliseTOTPSecret returns the secret in upper case without spaces or
// padding, after checking that it decodes.
func normaliseTOTPSecret(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	s = strings.ToUpper(strings.TrimRight(s, "="))
	if s == "" {
		return "", errorf("the TOTP secret is empty: want the device's base32 secret key (letters A-Z and digits 2-7)")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') }) {
		return "", errorf("the TOTP secret is not base32: want only letters A-Z and digits 2-7 (case, spaces and '=' padding are ignored)")
	}
	// Decode as the otp package will: padded to a multiple of 8.
	padded := s
	if n := len(s) % 8; n != 0 {
		padded += strings.Repeat("=", 8-n)
	}
	if _, err := base32.StdEncoding.DecodeString(padded); err != nil {
		return "", errorf("the TOTP secret is not base32: %d characters cannot be a whole number of bytes (want a length of 0, 2, 4, 5 or 7 modulo 8): %w", len(s), err)
	}
	return s, nil
}

// totpGenerator computes the codes of one secret.
type totpGenerator struct {
	secret string        // normalised base32; immutable
	sem    chan struct{} // held by the call in progress; guards used and last
	used   bool          // a code was returned; guarded by sem
	last   int64         // the step of the last code returned; guarded by sem
}

func (g *totpGenerator) code(ctx context.Context, _ string) (string, error) {
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return "", errorf("computing the TOTP code: %w", ctx.Err())
	}
	defer func() { <-g.sem }()
	for {
		now := time.Now()
		step := now.Unix() / int64(totpStep/time.Second)
		if !g.used || step > g.last {
			code, err := totp.GenerateCodeCustom(g.secret, now, totp.ValidateOpts{
				Period:    uint(totpStep / time.Second),
				Digits:    otp.DigitsSix,
				Algorithm: otp.AlgorithmSHA1,
			})
			if err != nil {
				return "", errorf("computing the TOTP code: %w", err)
			}
			g.used, g.last = true, step
			return code, nil
		}
		// This step's code was used: wait for the next step.
		next := time.Unix((g.last+1)*int64(totpStep/time.Second), 0)
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return "", errorf("waiting for the next TOTP code: %w", ctx.Err())
		}
	}
}

// ProcessTokenCode returns a TokenCodeFunc that runs command with sh -c and reads a 6-digit code from its standard output.
//
// It is aws-vault's mfa_process: command can ask a hardware key or a
// password manager for the code (for example "ykman oath accounts code
// --single aws"). The command's standard input and standard error are this
// process's, so that it can ask the user to touch a key; its standard
// output, trimmed, must be exactly 6 digits. STSCHAIN_MFA_SERIAL in its
// environment names the device. The command is killed when ctx ends. Errors say what was wrong without showing the output, which may be
// a code.
func ProcessTokenCode(command string) TokenCodeFunc {
	return func(ctx context.Context, serialNumber string) (string, error) {
		if strings.TrimSpace(command) == "" {
			return "", errorf("the MFA process command is empty")
		}
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
		cmd.Env = append(os.Environ(), "STSCHAIN_MFA_SERIAL="+serialNumber)
		cmd.WaitDelay = time.Second
		var out mfacode.Output
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return "", errorf("running the MFA process for %s: %w", serialNumber, ctx.Err())
			}
			return "", errorf("running the MFA process for %s: %w", serialNumber, err)
		}
		code := strings.TrimSpace(out.String())
		if out.Overflow() || !mfacode.Valid(code) {
			return "", errorf("the MFA process for %s printed no 6-digit code: want 6 digits alone on standard output", serialNumber)
		}
		return code, nil
	}
}

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
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
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
var ErrTokenCodeReused = errors.New("stschain: MFA token code already used; wait for the device's next code")

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

	// maxPromptLine bounds what the prompt keeps of a line of input.
	maxPromptLine = 256
)

// tokenCodeRetryKey is the context key of the reason, a string, for which
// the TokenCodeFunc is asked again.
type tokenCodeRetryKey struct{}

// tokenCodeRetryReason returns why fn is asked again, or "" on a first ask.
func tokenCodeRetryReason(ctx context.Context) string {
	reason, _ := ctx.Value(tokenCodeRetryKey{}).(string)
	return reason
}

// usedTokenCodes remembers the MFA codes sent to STS, per device, for as
// long as STS could refuse them again. It stores a keyed hash of each code,
// never the code.
type usedTokenCodes struct {
	mu   sync.Mutex
	key  []byte                     // HMAC key, random per process, made on first use; guarded by mu
	sent map[string][]sentTokenCode // by serial number; guarded by mu
}

type sentTokenCode struct {
	mac   [sha256.Size]byte // HMAC-SHA256 of the code
	until time.Time         // when STS can no longer hold it as used
}

// processTokenCodes is process-wide on purpose: STS refuses a reused code
// whichever provider of the process sent it first.
var processTokenCodes usedTokenCodes

// claim records that code is being sent for serial at now. It returns false,
// recording nothing, when the code was already sent and may still count as
// used at STS.
func (u *usedTokenCodes) claim(serial, code string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.key == nil {
		u.key = make([]byte, 32)
		_, _ = rand.Read(u.key) // never fails (crypto/rand, Go 1.24+)
		u.sent = make(map[string][]sentTokenCode)
	}
	h := hmac.New(sha256.New, u.key)
	h.Write([]byte(code))
	var mac [sha256.Size]byte
	h.Sum(mac[:0])

	// Drop every expired entry: the map stays as small as the number of
	// devices used in the last 90 seconds.
	for s, codes := range u.sent {
		kept := codes[:0]
		for _, c := range codes {
			if now.Before(c.until) {
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			delete(u.sent, s)
		} else {
			u.sent[s] = kept
		}
	}
	for _, c := range u.sent[serial] {
		if hmac.Equal(c.mac[:], mac[:]) {
			return false
		}
	}
	stepStart := now.Truncate(totpStep) // steps count from the Unix epoch, as Truncate does
	u.sent[serial] = append(u.sent[serial], sentTokenCode{mac: mac, until: stepStart.Add(usedCodeSteps * totpStep)})
	return true
}

// fetchTokenCode asks fn for the code of serial and returns it, trimmed,
// once it is 6 digits and not already sent for serial (see usedCodeSteps).
// A used code makes it ask again with a context giving the reason, up to
// tokenCodeAttempts times, then fail with ErrTokenCodeReused. Its errors
// never hold the code.
func fetchTokenCode(ctx context.Context, fn TokenCodeFunc, serial string) (string, error) {
	return processTokenCodes.fetch(ctx, fn, serial)
}

func (u *usedTokenCodes) fetch(ctx context.Context, fn TokenCodeFunc, serial string) (string, error) {
	callCtx := ctx
	for attempt := 1; ; attempt++ {
		code, err := fn(callCtx, serial)
		if err != nil {
			return "", fmt.Errorf("fetching MFA token code for %s: %w", serial, err)
		}
		code = strings.TrimSpace(code)
		if err := checkTokenCode(code); err != nil {
			return "", fmt.Errorf("fetching MFA token code for %s: %w", serial, err)
		}
		if u.claim(serial, code, time.Now()) {
			return code, nil
		}
		if attempt == tokenCodeAttempts {
			return "", fmt.Errorf("fetching MFA token code for %s: asked %d times: %w", serial, attempt, ErrTokenCodeReused)
		}
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("fetching MFA token code for %s: %w", serial, err)
		}
		callCtx = context.WithValue(ctx, tokenCodeRetryKey{},
			fmt.Sprintf("the last code for %s was already used; wait for the next code", serial))
	}
}

// checkTokenCode says what is wrong with code, without showing it.
func checkTokenCode(code string) error {
	if code == "" {
		return errors.New("stschain: the MFA token code is empty: want 6 digits")
	}
	if !isSixDigits(code) {
		return errors.New("stschain: the MFA token code is not valid: want 6 digits")
	}
	return nil
}

func isSixDigits(s string) bool {
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

// promptSem serialises prompts process-wide, so that two providers never
// ask the terminal at once. Held by the prompting goroutine.
var promptSem = make(chan struct{}, 1)

// PromptTokenCode is a [TokenCodeFunc] that asks the user. It writes the
// prompt to standard error (never to standard output, which may be captured
// by $(...) or read as credential_process output) and reads one line from
// the controlling terminal, /dev/tty, or from standard input when there is
// none. The input is echoed. The line, trimmed, must be 6 digits.
//
// Prompts are serialised process-wide: a second caller waits, honouring its
// context, until the first has its answer. When ctx ends PromptTokenCode
// returns at once with an error wrapping ctx.Err(); a read from standard
// input, unlike one from the terminal, cannot be interrupted and consumes
// the next line typed.
func PromptTokenCode(ctx context.Context, serialNumber string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("stschain: prompting for the MFA code of %s: %w", serialNumber, err)
	}
	var in io.Reader = os.Stdin
	if tty, err := os.Open("/dev/tty"); err == nil {
		// Closing the terminal also ends a read that ctx abandoned.
		defer tty.Close()
		in = tty
	}
	return promptTokenCode(ctx, in, os.Stderr, serialNumber)
}

// promptTokenCode is PromptTokenCode reading from in and prompting on out.
// The read runs in a goroutine that ends when in returns, which the caller
// arranges (by closing in) when ctx ends first.
func promptTokenCode(ctx context.Context, in io.Reader, out io.Writer, serial string) (string, error) {
	select {
	case promptSem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("stschain: waiting to prompt for the MFA code of %s: %w", serial, ctx.Err())
	}
	defer func() { <-promptSem }()
	if err := ctx.Err(); err != nil { // both select cases were ready
		return "", fmt.Errorf("stschain: prompting for the MFA code of %s: %w", serial, err)
	}

	if reason := tokenCodeRetryReason(ctx); reason != "" {
		fmt.Fprintf(out, "stschain: %s.\n", reason)
	}
	fmt.Fprintf(out, "Enter MFA code for %s: ", serial)

	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1) // buffered: the reader never waits for a caller that left
	go func() {
		line, err := readLine(in)
		done <- result{line, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		fmt.Fprintln(out)
		return "", fmt.Errorf("stschain: prompting for the MFA code of %s: %w", serial, ctx.Err())
	}
	code := strings.TrimSpace(r.line)
	if r.err != nil && (code == "" || !errors.Is(r.err, io.EOF)) {
		if errors.Is(r.err, io.EOF) {
			return "", fmt.Errorf("stschain: no MFA code entered for %s: %w", serial, r.err)
		}
		return "", fmt.Errorf("stschain: reading the MFA code for %s: %w", serial, r.err)
	}
	if !isSixDigits(code) {
		return "", fmt.Errorf("stschain: invalid MFA code entered for %s: want 6 digits", serial)
	}
	return code, nil
}

// readLine reads up to a newline or EOF, a byte at a time so that nothing
// after the line is consumed, and keeps at most maxPromptLine bytes.
func readLine(in io.Reader) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := in.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return string(line), nil
			}
			if len(line) < maxPromptLine {
				line = append(line, b[0])
			}
		}
		if err != nil {
			return string(line), err
		}
	}
}

// TOTPTokenCode returns a [TokenCodeFunc] computing the RFC 6238 codes
// (HMAC-SHA1, 6 digits, 30-second steps, as AWS virtual MFA devices use) of
// base32Secret, the secret of a virtual MFA device (the "secret key" AWS
// shows when the device is created). Letter case, spaces and '=' padding in
// the secret are ignored. The secret is checked here; errors never show it.
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
		return "", errors.New("stschain: the TOTP secret is empty: want the device's base32 secret key (letters A-Z and digits 2-7)")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') }) {
		return "", errors.New("stschain: the TOTP secret is not base32: want only letters A-Z and digits 2-7 (case, spaces and '=' padding are ignored)")
	}
	// Decode as the otp package will: padded to a multiple of 8.
	padded := s
	if n := len(s) % 8; n != 0 {
		padded += strings.Repeat("=", 8-n)
	}
	if _, err := base32.StdEncoding.DecodeString(padded); err != nil {
		return "", fmt.Errorf("stschain: the TOTP secret is not base32: %d characters cannot be a whole number of bytes (want a length of 0, 2, 4, 5 or 7 modulo 8): %w", len(s), err)
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
		return "", fmt.Errorf("stschain: computing the TOTP code: %w", ctx.Err())
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
				return "", fmt.Errorf("stschain: computing the TOTP code: %w", err)
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
			return "", fmt.Errorf("stschain: waiting for the next TOTP code: %w", ctx.Err())
		}
	}
}

// maxProcessOutput bounds what ProcessTokenCode reads of a command's output.
const maxProcessOutput = 4096

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
			return "", errors.New("stschain: the MFA process command is empty")
		}
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
		cmd.Env = append(os.Environ(), "STSCHAIN_MFA_SERIAL="+serialNumber)
		cmd.WaitDelay = time.Second
		var out limitedBuffer
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("stschain: running the MFA process for %s: %w", serialNumber, ctx.Err())
			}
			return "", fmt.Errorf("stschain: running the MFA process for %s: %w", serialNumber, err)
		}
		code := strings.TrimSpace(out.String())
		if out.overflow || !isSixDigits(code) {
			return "", fmt.Errorf("stschain: the MFA process for %s printed no 6-digit code: want 6 digits alone on standard output", serialNumber)
		}
		return code, nil
	}
}

// limitedBuffer keeps the first maxProcessOutput bytes written to it.
type limitedBuffer struct {
	b        []byte
	overflow bool
}

// Write keeps what fits and reports everything written, so that the
// command is never stopped by a short write.
func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := maxProcessOutput - len(l.b); room < n {
		l.overflow = true
		p = p[:max(room, 0)]
	}
	l.b = append(l.b, p...)
	return n, nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

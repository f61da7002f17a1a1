package stschain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rfcSecret is the SHA1 seed of RFC 6238's test vectors, "12345678901234567890", in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

const testSerial = "arn:aws:iam::999988887777:mfa/alice"

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTOTPTokenCodeSecretValidation(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		wantErr string // empty: valid
	}{
		{"canonical", rfcSecret, ""},
		{"lower case", strings.ToLower(rfcSecret), ""},
		{"grouped with spaces", "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", ""},
		{"padded", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE======", ""},
		{"unpadded odd length", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE", ""},
		{"empty", "", "secret is empty"},
		{"only spaces and padding", "  == ", "secret is empty"},
		{"digit 1 is not base32", "GEZDGNBVGY3TQOJ1", "want only letters A-Z and digits 2-7"},
		{"punctuation", "GEZDGNBV!Y3TQOJQ", "want only letters A-Z and digits 2-7"},
		{"impossible length", "GEZDGNBVG", "cannot be a whole number of bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn, err := TOTPTokenCode(tt.secret)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, fn)
				return
			}
			require.Error(t, err)
			assert.Nil(t, fn)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: "), err.Error())
			if s := strings.TrimSpace(strings.Trim(tt.secret, "= ")); len(s) > 3 {
				assert.NotContains(t, err.Error(), s, "the error shows the secret")
			}
		})
	}
}

func TestTOTPTokenCodeRFC6238(t *testing.T) {
	// RFC 6238 appendix B, SHA1, last 6 of the 8 digits. synctest's clock
	// starts in 2000, so the vector before it is skipped, and so is the one
	// of year 2603, more than a time.Duration ahead.
	vectors := []struct {
		unix int64
		want string
	}{
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
	}
	for _, secret := range []string{rfcSecret, "gezd gnbv gy3t qojq gezd gnbv gy3t qojq"} {
		t.Run(secret, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fn, err := TOTPTokenCode(secret)
				require.NoError(t, err)
				for _, v := range vectors {
					time.Sleep(time.Until(time.Unix(v.unix, 0)))
					start := time.Now()
					got, err := fn(context.Background(), testSerial)
					require.NoError(t, err)
					assert.Equal(t, v.want, got, "at %d", v.unix)
					assert.Equal(t, start, time.Now(), "a fresh step needs no wait")
				}
			})
		})
	}
}

func TestTOTPTokenCodeNeverRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		fn, err := TOTPTokenCode(rfcSecret)
		require.NoError(t, err)

		time.Sleep(12 * time.Second) // 12 s into a step
		first, err := fn(ctx, testSerial)
		require.NoError(t, err)

		start := time.Now()
		second, err := fn(ctx, testSerial)
		require.NoError(t, err)
		assert.Equal(t, 18*time.Second, time.Since(start), "waits exactly for the next step")
		assert.NotEqual(t, first, second)
		want, err := totp.GenerateCode(rfcSecret, time.Now())
		require.NoError(t, err)
		assert.Equal(t, want, second)

		// A caller that comes back a step later gets that step's code at once.
		time.Sleep(30 * time.Second)
		start = time.Now()
		third, err := fn(ctx, testSerial)
		require.NoError(t, err)
		assert.Equal(t, start, time.Now())
		assert.NotEqual(t, second, third)
	})
}

func TestTOTPTokenCodeConcurrentCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn, err := TOTPTokenCode(rfcSecret)
		require.NoError(t, err)
		start := time.Now()
		var mu sync.Mutex
		codes := map[string]time.Duration{}
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				code, err := fn(context.Background(), testSerial)
				assert.NoError(t, err)
				mu.Lock()
				codes[code] = time.Since(start)
				mu.Unlock()
			})
		}
		wg.Wait()
		require.Len(t, codes, 3, "three callers, three different codes")
		var waits []time.Duration
		for _, d := range codes {
			waits = append(waits, d)
		}
		assert.ElementsMatch(t, []time.Duration{0, 30 * time.Second, 60 * time.Second}, waits)
	})
}

func TestTOTPTokenCodeContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn, err := TOTPTokenCode(rfcSecret)
		require.NoError(t, err)
		_, err = fn(context.Background(), testSerial)
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err = fn(ctx, testSerial)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, time.Since(start), "returns when ctx ends, not at the next step")
		assert.Contains(t, err.Error(), "waiting for the next TOTP code")

		// Waiting for the semaphore honours ctx too.
		blocked := make(chan struct{})
		go func() {
			defer close(blocked)
			_, _ = fn(context.Background(), testSerial) // waits 25 s for the next step
		}()
		synctest.Wait()
		ctx2, cancel2 := context.WithCancel(context.Background())
		cancel2()
		_, err = fn(ctx2, testSerial)
		assert.ErrorIs(t, err, context.Canceled)
		<-blocked
	})
}

// codeSeq is a TokenCodeFunc returning codes in turn and recording the retry
// reason of each call.
type codeSeq struct {
	mu      sync.Mutex
	codes   []string
	reasons []string
}

func (s *codeSeq) fn(ctx context.Context, serial string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reasons = append(s.reasons, tokenCodeRetryReason(ctx))
	c := s.codes[0]
	if len(s.codes) > 1 {
		s.codes = s.codes[1:]
	}
	return c, nil
}

func TestTokenCodeFetchValidation(t *testing.T) {
	errBoom := errors.New("device unplugged")
	tests := []struct {
		name     string
		fn       TokenCodeFunc
		want     string
		wantErr  string
		wantIs   error
		leakable string // must not appear in the error
	}{
		{name: "ok", fn: constCode("123456"), want: "123456"},
		{name: "trimmed", fn: constCode(" 123456\r\n"), want: "123456"},
		{name: "callback error", fn: func(context.Context, string) (string, error) { return "", errBoom }, wantErr: "device " + testSerial + ": device unplugged", wantIs: errBoom},
		{name: "context error", fn: func(ctx context.Context, _ string) (string, error) { return "", context.Canceled }, wantIs: context.Canceled},
		{name: "empty", fn: constCode(""), wantErr: "empty: want 6 digits"},
		{name: "short", fn: constCode("12345"), wantErr: "want 6 digits", leakable: "12345"},
		{name: "long", fn: constCode("1234567"), wantErr: "want 6 digits", leakable: "1234567"},
		{name: "letters", fn: constCode("12a456"), wantErr: "want 6 digits", leakable: "12a456"},
		{name: "full-width digits", fn: constCode("１２３４５６"), wantErr: "want 6 digits", leakable: "１２３４５６"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u CodeGuard
			got, err := u.fetch(context.Background(), tt.fn, testSerial)
			if tt.wantErr == "" && tt.wantIs == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			assert.Empty(t, got)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), "device "+testSerial)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			if tt.leakable != "" {
				assert.NotContains(t, err.Error(), tt.leakable)
			}
		})
	}
}

func constCode(code string) TokenCodeFunc {
	return func(context.Context, string) (string, error) { return code, nil }
}

func TestTokenCodeReuse(t *testing.T) {
	ctx := context.Background()
	reason := "the last code for " + testSerial + " was already used; wait for the next code"

	t.Run("same code again is asked again, with the reason", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var u CodeGuard
			s := &codeSeq{codes: []string{"111111", "111111", "222222"}}
			got, err := u.fetch(ctx, s.fn, testSerial)
			require.NoError(t, err)
			assert.Equal(t, "111111", got)
			got, err = u.fetch(ctx, s.fn, testSerial)
			require.NoError(t, err)
			assert.Equal(t, "222222", got)
			assert.Equal(t, []string{"", "", reason}, s.reasons)
		})
	})

	t.Run("bounded retries", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var u CodeGuard
			s := &codeSeq{codes: []string{"333333"}}
			_, err := u.fetch(ctx, s.fn, testSerial)
			require.NoError(t, err)
			s.reasons = nil
			_, err = u.fetch(ctx, s.fn, testSerial)
			require.ErrorIs(t, err, ErrTokenCodeReused)
			assert.NotContains(t, err.Error(), "333333")
			assert.Contains(t, err.Error(), "device "+testSerial)
			assert.Equal(t, []string{"", reason, reason}, s.reasons, "asked tokenCodeAttempts times")
		})
	})

	t.Run("retries stop when ctx ends", func(t *testing.T) {
		var u CodeGuard
		_, err := u.fetch(ctx, constCode("444444"), testSerial)
		require.NoError(t, err)
		cctx, cancel := context.WithCancel(ctx)
		calls := 0
		_, err = u.fetch(cctx, func(context.Context, string) (string, error) {
			calls++
			cancel()
			return "444444", nil
		}, testSerial)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, calls)
	})

	t.Run("devices are independent", func(t *testing.T) {
		var u CodeGuard
		for _, serial := range []string{testSerial, "arn:aws:iam::123456789012:mfa/bob", "GAHT12345678"} {
			got, err := u.fetch(ctx, constCode("555555"), serial)
			require.NoError(t, err, serial)
			assert.Equal(t, "555555", got)
		}
	})

	t.Run("remembered until STS forgets it", func(t *testing.T) {
		// A code sent during step n is refused until the start of step n+3.
		tests := []struct {
			name      string
			sentAt    time.Duration // after the start of a step
			retryFrom time.Duration // first moment the code is accepted again
		}{
			{"sent at the start of the step", 0, 90 * time.Second},
			{"sent at the end of the step", 29 * time.Second, 90 * time.Second},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { // starts at 2000-01-01T00:00:00Z, a step boundary
					var u CodeGuard
					stepStart := time.Now()
					time.Sleep(tt.sentAt)
					_, err := u.fetch(ctx, constCode("666666"), testSerial)
					require.NoError(t, err)

					time.Sleep(time.Until(stepStart.Add(tt.retryFrom)) - time.Nanosecond)
					_, err = u.fetch(ctx, constCode("666666"), testSerial)
					require.ErrorIs(t, err, ErrTokenCodeReused, "just before the window ends")

					time.Sleep(time.Nanosecond)
					got, err := u.fetch(ctx, constCode("666666"), testSerial)
					require.NoError(t, err, "once the window has ended")
					assert.Equal(t, "666666", got)
				})
			})
		}
	})

	t.Run("expired entries are dropped and codes are not stored", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var u CodeGuard
			_, err := u.fetch(ctx, constCode("777777"), "GAHT00000001")
			require.NoError(t, err)
			_, err = u.fetch(ctx, constCode("888888"), testSerial)
			require.NoError(t, err)
			u.get().mu.Lock()
			assert.Len(t, u.get().sent, 2)
			assert.NotContains(t, fmt.Sprintf("%v %+v %#v", u.get().sent, u.get().sent, u.get().sent), "777777")
			u.get().mu.Unlock()

			time.Sleep(2 * time.Minute)
			_, err = u.fetch(ctx, constCode("999999"), testSerial)
			require.NoError(t, err)
			u.get().mu.Lock()
			assert.Len(t, u.get().sent, 1, "the other device's entry expired")
			assert.Len(t, u.get().sent[testSerial], 1)
			u.get().mu.Unlock()
		})
	})

	t.Run("one sender among concurrent callers", func(t *testing.T) {
		var u CodeGuard
		var ok, reused atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				_, err := u.fetch(ctx, constCode("121212"), testSerial)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrTokenCodeReused):
					reused.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			})
		}
		wg.Wait()
		assert.EqualValues(t, 1, ok.Load())
		assert.EqualValues(t, 9, reused.Load())
	})

	t.Run("providers without a guard share the process's", func(t *testing.T) {
		serial := uniqueSerial(t)
		f := newFakeSTS("M", 0)
		ps := make([]*ChainableProvider, 2)
		for i := range ps {
			ps[i] = newFake(t, f, staticMaster("alice"), func(o *Options) {
				o.SerialNumber, o.TokenCode = serial, constCode("131313")
			})
		}
		_, err := ps[0].Retrieve(ctx)
		require.NoError(t, err)
		_, err = ps[1].Retrieve(ctx)
		assert.ErrorIs(t, err, ErrTokenCodeReused, "the second provider would send the same code")
		assert.Equal(t, 1, f.count())
	})

	t.Run("providers with their own guards are independent", func(t *testing.T) {
		serial := uniqueSerial(t)
		f := newFakeSTS("M", 0)
		for range 2 {
			p := newFake(t, f, staticMaster("alice"), func(o *Options) {
				o.SerialNumber, o.TokenCode, o.CodeGuard = serial, constCode("141414"), new(CodeGuard)
			})
			_, err := p.Retrieve(ctx)
			require.NoError(t, err)
		}
		assert.Equal(t, 2, f.count())
	})

	t.Run("TOTP moves on to the next code", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var u CodeGuard
			// Two funcs for one device, as two providers built separately.
			fn1, err := TOTPTokenCode(rfcSecret)
			require.NoError(t, err)
			fn2, err := TOTPTokenCode(rfcSecret)
			require.NoError(t, err)
			c1, err := u.fetch(ctx, fn1, testSerial)
			require.NoError(t, err)
			start := time.Now()
			c2, err := u.fetch(ctx, fn2, testSerial)
			require.NoError(t, err)
			assert.NotEqual(t, c1, c2)
			assert.Equal(t, 30*time.Second, time.Since(start), "fn2 waited for the next step")
		})
	})
}

func TestPromptTokenCode(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    string
		wantErr string
		wantIs  error
		prompts int // how many times the prompt is shown; 0 means 1
	}{
		{name: "line", input: "123456\n", want: "123456"},
		{name: "spaces and CRLF", input: "  123456 \r\n", want: "123456"},
		{name: "no newline before EOF", input: "123456", want: "123456"},
		{name: "only the first line", input: "123456\n654321\n", want: "123456"},
		{name: "short", input: "12345\n", wantErr: "want 6 digits", prompts: 2},
		{name: "letters", input: "abcdef\n", wantErr: "want 6 digits", prompts: 2},
		{name: "two codes on a line", input: "123456 654321\n", wantErr: "want 6 digits", prompts: 2},
		{name: "long line", input: strings.Repeat("1", 10000) + "\n", wantErr: "want 6 digits", prompts: 2},
		{name: "empty line", input: "\n", wantErr: "want 6 digits", prompts: 2},
		{name: "bad code before end of input", input: "12345", wantErr: "want 6 digits"},
		{name: "end of input", input: "", wantErr: "no MFA code entered", wantIs: io.EOF},
		{name: "mistyped, then right", input: "12345\n123456\n", want: "123456", prompts: 2},
		{name: "mistyped twice, then right", input: "1\n\n123456\n", want: "123456", prompts: 3},
		{name: "mistyped three times", input: "1\n2\n3\n123456\n", wantErr: "no valid MFA code entered", prompts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			got, err := newPrompter().prompt(context.Background(), strings.NewReader(tt.input), &out, testSerial)
			prompts := max(tt.prompts, 1)
			assert.Equal(t, prompts, strings.Count(out.String(), "Enter MFA code for "+testSerial+": "), out.String())
			assert.Equal(t, prompts-1, strings.Count(out.String(), "that is not a 6-digit code; try again"), out.String())
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			assert.Empty(t, got)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: "), err.Error())
			if in := strings.TrimSpace(tt.input); in != "" {
				assert.NotContains(t, err.Error(), in, "the error echoes the input")
			}
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
		})
	}

	t.Run("reads no further than the line", func(t *testing.T) {
		in := strings.NewReader("123456\n654321\n")
		var out syncBuffer
		first, err := newPrompter().prompt(context.Background(), in, &out, testSerial)
		require.NoError(t, err)
		second, err := newPrompter().prompt(context.Background(), in, &out, testSerial)
		require.NoError(t, err)
		assert.Equal(t, []string{"123456", "654321"}, []string{first, second})
	})

	t.Run("retry reason shown", func(t *testing.T) {
		var out syncBuffer
		ctx := context.WithValue(context.Background(), tokenCodeRetryKey{}, "the last code for "+testSerial+" was already used; wait for the next code")
		_, err := newPrompter().prompt(ctx, strings.NewReader("123456\n"), &out, testSerial)
		require.NoError(t, err)
		assert.Equal(t, "stschain: the last code for "+testSerial+" was already used; wait for the next code.\nEnter MFA code for "+testSerial+": ", out.String())
	})

	t.Run("through fetchTokenCode", func(t *testing.T) {
		var u CodeGuard
		var out syncBuffer
		in := strings.NewReader("123456\n123456\n654321\n")
		fn := func(ctx context.Context, serial string) (string, error) {
			return newPrompter().prompt(ctx, in, &out, serial)
		}
		_, err := u.fetch(context.Background(), fn, testSerial)
		require.NoError(t, err)
		got, err := u.fetch(context.Background(), fn, testSerial)
		require.NoError(t, err)
		assert.Equal(t, "654321", got)
		assert.Equal(t, 1, strings.Count(out.String(), "was already used; wait for the next code"))
	})
}

func TestPromptTokenCodeContext(t *testing.T) {
	t.Run("cancel while reading", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close() // ends the abandoned read
		ctx, cancel := context.WithCancel(context.Background())
		var out syncBuffer
		errc := make(chan error, 1)
		go func() {
			_, err := newPrompter().prompt(ctx, pr, &out, testSerial)
			errc <- err
		}()
		require.Eventually(t, func() bool { return strings.Contains(out.String(), "Enter MFA code") }, 5*time.Second, time.Millisecond)
		cancel()
		select {
		case err := <-errc:
			assert.ErrorIs(t, err, context.Canceled)
		case <-time.After(5 * time.Second):
			t.Fatal("promptTokenCode did not return when ctx was canceled")
		}
	})

	t.Run("already canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out syncBuffer
		_, err := newPrompter().prompt(ctx, strings.NewReader("123456\n"), &out, testSerial)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, out.String(), "no prompt")

		// The exported function returns before touching the terminal.
		_, err = PromptTokenCode(ctx, testSerial)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestPromptTokenCodeSerialised(t *testing.T) {
	terminal := newPrompter()
	pr, pw := io.Pipe()
	defer pw.Close()
	var outA, outB syncBuffer
	var mu sync.Mutex
	var events []string
	event := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}

	doneA := make(chan string, 1)
	go func() {
		code, err := terminal.prompt(context.Background(), pr, &outA, "A")
		assert.NoError(t, err)
		doneA <- code
	}()
	require.Eventually(t, func() bool { return outA.String() != "" }, 5*time.Second, time.Millisecond, "A prompts")

	// B waits while A is prompting; a B whose ctx ends gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := terminal.prompt(ctx, strings.NewReader("111111\n"), &outB, "B")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "waiting to prompt")
	assert.Empty(t, outB.String())

	doneB := make(chan string, 1)
	go func() {
		code, err := terminal.prompt(context.Background(), strings.NewReader("222222\n"), &writerFunc{&outB, func() { event("B prompts") }}, "B")
		assert.NoError(t, err)
		doneB <- code
	}()
	event("A answered")
	_, err = pw.Write([]byte("333333\n"))
	require.NoError(t, err)
	assert.Equal(t, "333333", <-doneA)
	assert.Equal(t, "222222", <-doneB)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"A answered", "B prompts"}, events)
}

// writerFunc calls f before its first write to w.
type writerFunc struct {
	w    io.Writer
	once func()
}

func (w *writerFunc) Write(p []byte) (int, error) {
	if w.once != nil {
		w.once()
		w.once = nil
	}
	return w.w.Write(p)
}

func TestProcessTokenCode(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, command, want, err string
	}{
		{"code", "echo ' 123456 '", "123456", ""},
		{"serial in the environment", `test "$STSCHAIN_MFA_SERIAL" = dev && echo 654321`, "654321", ""},
		{"not six digits", "echo 12345", "", "printed no 6-digit code"},
		{"too much output", "yes 123456 | head -c 10000", "", "printed no 6-digit code"},
		{"failure", "exit 3", "", "exit status 3"},
		{"empty", " ", "", "command is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := ProcessTokenCode(tc.command)(ctx, "dev")
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				assert.NotContains(t, err.Error(), "12345", "the output is never shown")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, code)
		})
	}
}

func TestProcessTokenCodeHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := ProcessTokenCode("exec sleep 30")(ctx, "dev")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

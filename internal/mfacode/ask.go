package mfacode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Attempts bounds the lines Ask reads for one code: a mistyped code is
// asked for again, up to this many times in all.
const Attempts = 3

// maxLine bounds what Ask keeps of a line of input.
const maxLine = 256

// Ask asks for the code of device serial on out ("Enter MFA code for
// SERIAL: ") and reads lines of in until one, trimmed, is a code, up to
// Attempts lines; a note, when not empty, is said first. It reads a byte
// at a time, so that nothing after the answer's line is consumed. When ctx
// ends it returns at once with an error wrapping ctx.Err(); the read it
// abandons ends when in does, which the caller arranges (by closing in).
// Its errors never show what was typed.
func Ask(ctx context.Context, in io.Reader, out io.Writer, serial, note string) (string, error) {
	if note != "" {
		fmt.Fprintf(out, "stschain: %s.\n", note)
	}
	for attempt := 1; ; attempt++ {
		fmt.Fprintf(out, "Enter MFA code for %s: ", serial)
		line, err := readLineContext(ctx, in)
		if ctx.Err() != nil {
			fmt.Fprintln(out)
			return "", fmt.Errorf("prompting for the MFA code of %s: %w", serial, ctx.Err())
		}
		code := strings.TrimSpace(line)
		switch {
		case Valid(code):
			return code, nil
		case errors.Is(err, io.EOF) && code == "" && attempt == 1:
			return "", fmt.Errorf("no MFA code entered for %s: %w", serial, err)
		case err != nil && !errors.Is(err, io.EOF):
			return "", fmt.Errorf("reading the MFA code for %s: %w", serial, err)
		case err != nil || attempt == Attempts:
			// The input ended after a mistyped code, or the user had
			// their tries.
			return "", fmt.Errorf("no valid MFA code entered for %s: want 6 digits", serial)
		}
		fmt.Fprintf(out, "stschain: that is not a 6-digit code; try again (%d of %d).\n", attempt+1, Attempts)
	}
}

// readLineContext is readLine, returning when ctx ends even if in does not.
func readLineContext(ctx context.Context, in io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1) // buffered: the reader never waits for a caller that left
	go func() {
		line, err := readLine(in)
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// readLine reads up to a newline or EOF, a byte at a time so that nothing
// after the line is consumed, and keeps at most maxLine bytes.
func readLine(in io.Reader) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := in.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return string(line), nil
			}
			if len(line) < maxLine {
				line = append(line, b[0])
			}
		}
		if err != nil {
			return string(line), err
		}
	}
}

package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// quote returns s as the command prints a value it read from a file, the
// environment, an argument or an answer (a profile name, an ARN, a path):
// as it is when every character is a printable one that needs no quoting
// (letters, digits and the punctuation of ARNs, paths and URLs), else as a
// Go string literal, whose escapes show control characters, a terminal's
// escape sequences, spaces and quotes for what they are. It is the one
// rule: every message and every line of output the command builds puts
// such values through it (and never through %q, which would quote the
// plain ones too).
func quote(s string) string {
	if s != "" && strings.IndexFunc(s, needsQuote) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// needsQuote reports whether r makes quote quote its string.
func needsQuote(r rune) bool {
	return r > unicode.MaxASCII || r <= ' ' || r == 0x7f || strings.ContainsRune(`"'\`+"`$;&|<>(){}[]!*?#~", r)
}

// printable returns s with every control character, every character that
// is not printable (a terminal's escape sequences start with ESC, and
// bidirectional overrides reorder what follows) and every byte that is not
// UTF-8 (0x9b starts an escape sequence on some terminals) escaped as in a
// Go string literal; the rest is left as it is. Every message the command
// writes goes through it, for the values in others' errors that quote did
// not reach.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, notPrintable) < 0 {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case notPrintable(r):
			q := strconv.QuoteRune(r) // 'x' with x escaped
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// notPrintable reports whether printable escapes r.
func notPrintable(r rune) bool { return r != ' ' && !unicode.IsPrint(r) }

// Package secrettest checks the module's promise about secrets (secret
// access keys, session tokens, MFA codes, TOTP seeds, auth tokens,
// keyring passphrases): no fmt verb, no log/slog handler and no
// encoding/json output of a value of its types shows one.
package secrettest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// verbs are the fmt verbs and flags a value may be printed with. %p is
// tried on pointers only: fmt prints a struct value given %p (a bad verb,
// which go vet reports) field by field without calling any of its
// methods, so that no type can hide what it holds there.
var verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%#x", "%d", "%t", "%o", "%O", "%b", "%e", "%E", "%f", "%g", "%c", "%U", "%10v", "%10.3v", "%-10s"}

// field holds a value in an exported field, where fmt calls its methods
// as it does at the top (through an unexported field it does not).
type field struct{ V any }

// Outputs returns every text the promise covers for v: each fmt verb of
// v and of v inside a slice, a map and a struct's exported field (and %p
// of a pointer), fmt.Sprint and fmt.Sprintln, v logged as an attribute by
// slog's text and JSON handlers, v's json.Marshal (when it succeeds),
// and, for an error, its message. Keys are what made the text.
//
// Left out is what fmt prints without calling any method, which no method
// can change: %p of a value, and a pointer in an unexported field given a
// verb that does not suit it (%s, %t ...), whose struct fmt prints field
// by field. A type that holds its secret behind a pointer to a string
// shows only an address there (keyring.Keys, credserver.Server); a test
// may try that case on its own.
func Outputs(v any) map[string]string {
	out := map[string]string{}
	for _, verb := range verbs {
		out["fmt "+verb] = fmt.Sprintf(verb, v)
		out["fmt "+verb+" in a slice"] = fmt.Sprintf(verb, []any{v})
		out["fmt "+verb+" in a map"] = fmt.Sprintf(verb, map[string]any{"k": v})
		out["fmt "+verb+" in a field"] = fmt.Sprintf(verb, field{v})
	}
	if reflect.ValueOf(v).Kind() == reflect.Pointer {
		out["fmt %p"] = fmt.Sprintf("%p", v)
	}
	out["fmt.Sprint"] = fmt.Sprint(v)
	out["fmt.Sprintln"] = fmt.Sprintln(v)
	// No time in the lines: its digits could hold a secret by chance.
	opts := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, opts) },
		"slog JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, opts) },
	} {
		var b bytes.Buffer
		slog.New(h(&b)).Info("value", "v", v, slog.Any("any", v), slog.Group("g", "v", v))
		out[name] = b.String()
	}
	if data, err := json.Marshal(v); err == nil {
		out["json.Marshal"] = string(data)
	}
	if err, ok := v.(error); ok {
		out["Error"] = err.Error()
	}
	return out
}

// Bytes returns the texts a secret of bytes (a key) takes where it is
// shown: as text, in base64, and as each verb of [Outputs] prints it, for
// [AssertHidden] to look for.
func Bytes(b []byte) []string {
	forms := []string{string(b), base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b)}
	for _, verb := range verbs {
		forms = append(forms, fmt.Sprintf(verb, b))
	}
	return forms
}

// AssertHidden fails t for each output of v (see [Outputs]) that shows
// one of secrets, and for a secret shorter than six characters, which
// could appear by chance.
func AssertHidden(t testing.TB, v any, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 6 {
			t.Errorf("secret %q is too short to look for", s)
		}
	}
	for how, text := range Outputs(v) {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s of %T shows a secret: %s", how, v, text)
			}
		}
	}
}

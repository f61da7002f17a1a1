// Package pyjson writes JSON byte for byte as Python's json module does,
// for what must match the AWS CLI's own output: the cache keys botocore
// hashes (json.dumps with sort_keys=True) and the documents the AWS CLI
// prints (json.dumps with its default ensure_ascii).
//
// Limits of the emulation: numbers are printed as Python prints the int
// or float json.loads makes of them (arbitrary-size integers,
// shortest-repr floats, Infinity for overflow); the NaN and Infinity
// literals Python accepts are rejected, as Go's JSON parser rejects them;
// a lone UTF-16 surrogate escape (\ud800) becomes U+FFFD where Python
// keeps it.
package pyjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// Loads parses s as json.loads would for [Dumps]: numbers stay
// json.Number, so that integers keep every digit.
func Loads(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// Dumps returns v as Python's json.dumps(v, sort_keys=True) writes it with
// its defaults otherwise: separators ", " and ": " (with compact, "," and
// ":", as separators=(",", ":") gives), keys sorted by code point,
// ensure_ascii. v holds nil, bool, string, int, int64, json.Number,
// []any and map[string]any values (what [Loads] returns, and more), or
// map[string]string.
func Dumps(v any, compact bool) (string, error) {
	e := encoder{item: ", ", key: ": "}
	if compact {
		e.item, e.key = ",", ":"
	}
	if err := e.write(v); err != nil {
		return "", err
	}
	return e.b.String(), nil
}

// Quote returns s as json.dumps writes a str with ensure_ascii (Python's
// py_encode_basestring_ascii): between double quotes, short escapes for
// \" \\ \b \f \n \r \t, \uXXXX (lower-case hex, UTF-16 surrogate pairs
// above U+FFFF) for every other character outside printable ASCII (0x20
// to 0x7e); '/' is not escaped.
func Quote(s string) string {
	var b strings.Builder
	writeString(&b, s)
	return b.String()
}

type encoder struct {
	b         strings.Builder
	item, key string // the separators
}

func (e *encoder) write(v any) error {
	b := &e.b
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		// Python's True and False are true and false in JSON.
		b.WriteString(strconv.FormatBool(v))
	case string:
		writeString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case json.Number:
		s, err := number(v)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteString(e.item)
			}
			if err := e.write(x); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		return writeObject(e, v)
	case map[string]string:
		return writeObject(e, v)
	default:
		return fmt.Errorf("cannot serialise a %T", v)
	}
	return nil
}

// writeObject writes m with its keys sorted. Go compares strings bytewise;
// UTF-8 byte order is code point order, which is how Python sorts str
// keys.
func writeObject[V any](e *encoder, m map[string]V) error {
	e.b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			e.b.WriteString(e.item)
		}
		writeString(&e.b, k)
		e.b.WriteString(e.key)
		if err := e.write(m[k]); err != nil {
			return err
		}
	}
	e.b.WriteByte('}')
	return nil
}

// number formats a JSON number as Python prints the int or float that
// json.loads makes of it.
func number(n json.Number) (string, error) {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		i, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return "", fmt.Errorf("invalid number %q", s)
		}
		return i.String(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return "", fmt.Errorf("invalid number %q: %w", s, err)
	}
	return floatRepr(f), nil
}

// floatRepr is Python's repr(float): the shortest digits that round-trip,
// in positional notation when the decimal exponent is in [-4, 16), else in
// scientific notation with at least two exponent digits.
func floatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	// d.ddde±XX: two exponent digits at least, as Python writes them.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	_, exp, _ := strings.Cut(e, "e")
	if x, _ := strconv.Atoi(exp); x < -4 || x >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// writeString writes s as Quote returns it.
func writeString(b *strings.Builder, s string) {
	const hexDigits = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hexDigits[(r>>shift)&0xf])
		}
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			u4(0xd800 | (r>>10)&0x3ff)
			u4(0xdc00 | r&0x3ff)
		default:
			u4(r)
		}
	}
	b.WriteByte('"')
}

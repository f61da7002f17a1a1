package stschain

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Cache keys.
//
// An AssumeRole entry is keyed exactly as the AWS CLI (botocore's
// BaseAssumeRoleCredentialFetcher._create_cache_key) keys it, so that a
// session the CLI cached in ~/.aws/cli/cache is found by this package and the
// other way round:
//
//	sha1_hex(json.dumps(args, sort_keys=True))
//
// where args are the AssumeRole arguments that were set, named and shaped as
// boto3 sends them, without TokenCode, without RoleSessionName when that was
// generated rather than given (botocore drops it only then: a
// role_session_name from the profile is part of the key), and with Policy
// parsed from JSON so that its keys are sorted too. botocore's
// _make_file_safe changes nothing in a hex digest.
//
// Limits of the Python emulation, all inside Policy: numbers are printed as
// Python prints the int or float json.loads makes of them (arbitrary-size
// integers, shortest-repr floats, Infinity for overflow); the NaN and
// Infinity literals Python accepts are rejected, as Go's JSON parser rejects
// them; a lone UTF-16 surrogate escape (\ud800) becomes U+FFFD where Python
// keeps it, so such a policy gets a key the CLI does not compute.

// assumeRoleCacheKey returns the AWS CLI's cache key for in. The arguments
// that count are those set in in (non-nil pointers, non-empty slices);
// RoleSessionName counts only when sessionNameGiven, that is when the user
// chose it rather than the provider generating it.
func assumeRoleCacheKey(in *sts.AssumeRoleInput, sessionNameGiven bool) (string, error) {
	if in == nil || in.RoleArn == nil || *in.RoleArn == "" {
		return "", errors.New("stschain: cache key: AssumeRole input has no RoleArn")
	}
	args := map[string]any{"RoleArn": *in.RoleArn}
	if sessionNameGiven {
		if in.RoleSessionName == nil {
			return "", errors.New("stschain: cache key: RoleSessionName is said to be given but is nil")
		}
		args["RoleSessionName"] = *in.RoleSessionName
	}
	setString := func(name string, p *string) {
		if p != nil {
			args[name] = *p
		}
	}
	setString("ExternalId", in.ExternalId)
	setString("SerialNumber", in.SerialNumber)
	setString("SourceIdentity", in.SourceIdentity)
	if in.DurationSeconds != nil {
		args["DurationSeconds"] = int64(*in.DurationSeconds)
	}
	if in.Policy != nil {
		p, err := parsePolicyJSON(*in.Policy)
		if err != nil {
			return "", fmt.Errorf("stschain: cache key: Policy is not valid JSON: %w", err)
		}
		args["Policy"] = p
	}
	if len(in.PolicyArns) > 0 {
		l := make([]any, 0, len(in.PolicyArns))
		for _, d := range in.PolicyArns {
			m := map[string]any{}
			if d.Arn != nil {
				m["arn"] = *d.Arn
			}
			l = append(l, m)
		}
		args["PolicyArns"] = l
	}
	if len(in.Tags) > 0 {
		l := make([]any, 0, len(in.Tags))
		for _, t := range in.Tags {
			m := map[string]any{}
			if t.Key != nil {
				m["Key"] = *t.Key
			}
			if t.Value != nil {
				m["Value"] = *t.Value
			}
			l = append(l, m)
		}
		args["Tags"] = l
	}
	if len(in.TransitiveTagKeys) > 0 {
		l := make([]any, 0, len(in.TransitiveTagKeys))
		for _, k := range in.TransitiveTagKeys {
			l = append(l, k)
		}
		args["TransitiveTagKeys"] = l
	}
	if len(in.ProvidedContexts) > 0 {
		l := make([]any, 0, len(in.ProvidedContexts))
		for _, c := range in.ProvidedContexts {
			m := map[string]any{}
			if c.ProviderArn != nil {
				m["ProviderArn"] = *c.ProviderArn
			}
			if c.ContextAssertion != nil {
				m["ContextAssertion"] = *c.ContextAssertion
			}
			l = append(l, m)
		}
		args["ProvidedContexts"] = l
	}
	return sha1Key(args)
}

// sessionTokenKeyTag marks the hashed JSON of a GetSessionToken key. No
// AssumeRole argument has this name, and every AssumeRole key hashes a
// RoleArn, so the two kinds of key never collide.
const sessionTokenKeyTag = "stschain:GetSessionToken"

// sessionTokenCacheKey returns the cache key of a GetSessionToken session
// (which the AWS CLI does not cache). It hashes the master's access key ID,
// so that two IAM users never share an entry, with DurationSeconds and
// SerialNumber when set.
func sessionTokenCacheKey(in *sts.GetSessionTokenInput, masterAccessKeyID string) (string, error) {
	if masterAccessKeyID == "" {
		return "", errors.New("stschain: cache key: GetSessionToken needs the master's access key ID")
	}
	args := map[string]any{
		sessionTokenKeyTag: 1,
		"AccessKeyId":      masterAccessKeyID,
	}
	if in != nil {
		if in.DurationSeconds != nil {
			args["DurationSeconds"] = int64(*in.DurationSeconds)
		}
		if in.SerialNumber != nil {
			args["SerialNumber"] = *in.SerialNumber
		}
	}
	return sha1Key(args)
}

// sha1Key is the lower-case hex SHA-1 of v serialised as Python's
// json.dumps(v, sort_keys=True).
func sha1Key(v any) (string, error) {
	var b strings.Builder
	if err := writePyJSON(&b, v); err != nil {
		return "", fmt.Errorf("stschain: cache key: %w", err)
	}
	sum := sha1.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:]), nil
}

// parsePolicyJSON parses s as json.loads would for writePyJSON: numbers stay
// json.Number so that integers keep every digit.
func parsePolicyJSON(s string) (any, error) {
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

// writePyJSON writes v as Python's json.dumps(v, sort_keys=True) does with
// its defaults: separators ", " and ": ", keys sorted by code point,
// ensure_ascii. v holds what parsePolicyJSON returns, plus int64 and string
// values.
func writePyJSON(b *strings.Builder, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		writePyString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case json.Number:
		s, err := pyNumber(v)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writePyJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		// Go compares strings bytewise; UTF-8 byte order is code point
		// order, which is how Python sorts str keys.
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyString(b, k)
			b.WriteString(": ")
			if err := writePyJSON(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("cannot serialise a %T", v)
	}
	return nil
}

// pyNumber formats a JSON number as Python prints the int or float that
// json.loads makes of it.
func pyNumber(n json.Number) (string, error) {
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
	return pyFloatRepr(f), nil
}

// pyFloatRepr is Python's repr(float): the shortest digits that round-trip,
// in positional notation when the decimal exponent is in [-4, 16), else in
// scientific notation with at least two exponent digits.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX, two exponent digits at least, as Python
	exp, err := strconv.Atoi(e[strings.LastIndexByte(e, 'e')+1:])
	if err != nil {
		return e // cannot happen
	}
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// writePyString writes s as a JSON string the way Python's
// py_encode_basestring_ascii does: short escapes for \" \\ \b \f \n \r \t,
// \uXXXX (lower-case hex, UTF-16 surrogate pairs above U+FFFF) for every
// other rune outside printable ASCII (0x20 to 0x7e); '/' is not escaped.
func writePyString(b *strings.Builder, s string) {
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

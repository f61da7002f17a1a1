//lint:file-ignore ST1005 these errors carry STS's own message texts, which clients see verbatim

package ststest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 verification, written from the Signature Version 4 specification
// rather than by calling the SDK's signer, so that a request the SDK signs
// wrongly is refused, and requests signed by other clients (botocore) are
// checked by the same code.

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	// maxClockSkew is how far the signing time may be from the real wall
	// clock, as AWS allows.
	maxClockSkew = 5 * time.Minute
)

// sigV4Auth is a parsed Authorization header.
type sigV4Auth struct {
	accessKeyID   string
	date          string // yyyymmdd of the credential scope
	region        string
	service       string
	terminator    string
	signedHeaders []string
	signature     string
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
//
// Its messages are STS's (IncompleteSignature): components are separated
// by commas or spaces and each must be key=value, "'X' not a valid
// key=value pair (missing equal-sign) in Authorization header: 'H'."
// (boto/boto3#2280, an STS answer to "Credential= AKIA..."), and a
// credential has five parts, "Credential must have exactly 5
// slash-delimited elements, e.g. keyid/date/region/service/term, got 'X'"
// (hashicorp/vault#4939, an STS answer).
func parseAuthorization(h string) (sigV4Auth, error) {
	var a sigV4Auth
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != sigV4Algorithm {
		return a, fmt.Errorf("Authorization header requires the %s algorithm", sigV4Algorithm)
	}
	parts := strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' })
	for _, part := range parts {
		if !strings.Contains(part, "=") {
			return a, fmt.Errorf("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, h)
		}
	}
	for _, part := range parts {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 {
				return a, fmt.Errorf("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", v)
			}
			a.accessKeyID, a.date, a.region, a.service, a.terminator = f[0], f[1], f[2], f[3], f[4]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	switch {
	case a.accessKeyID == "":
		return a, fmt.Errorf("Authorization header requires 'Credential' parameter")
	case len(a.signedHeaders) == 0 || a.signedHeaders[0] == "":
		return a, fmt.Errorf("Authorization header requires 'SignedHeaders' parameter")
	case a.signature == "":
		return a, fmt.Errorf("Authorization header requires 'Signature' parameter")
	}
	return a, nil
}

// signingTime returns the request's X-Amz-Date (or Date) header.
func signingTime(r *http.Request) (time.Time, string, error) {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(amzDateFormat, v)
		return t, v, err
	}
	if v := r.Header.Get("Date"); v != "" {
		t, err := http.ParseTime(v)
		return t.UTC(), t.UTC().Format(amzDateFormat), err
	}
	return time.Time{}, "", fmt.Errorf("missing X-Amz-Date")
}

// canonicalRequest builds the SigV4 canonical request of r with the given
// body hash.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	// Non-S3 services encode each segment twice; an already-escaped path
	// is escaped once more.
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			dk, dv = k, v
		}
		pairs = append(pairs, kv{uriEncode(dk), uriEncode(dv)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&")
}

// uriEncode encodes everything but the RFC 3986 unreserved characters.
func uriEncode(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

func canonicalHeaderValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	// Header.Values returns the request's own slice: trim into a copy.
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// expectedSignature computes the hex SigV4 signature of the canonical
// request for the given secret and scope.
func expectedSignature(secret string, a sigV4Auth, amzDate, canonical string) string {
	scope := strings.Join([]string{a.date, a.region, a.service, a.terminator}, "/")
	stringToSign := sigV4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
	k := hmacSHA256([]byte("AWS4"+secret), a.date)
	k = hmacSHA256(k, a.region)
	k = hmacSHA256(k, a.service)
	k = hmacSHA256(k, a.terminator)
	return hex.EncodeToString(hmacSHA256(k, stringToSign))
}

// msgRegion is STS's refusal of a credential scope for another region
// (SignatureDoesNotMatch, 403), as in hashicorp/terraform-provider-aws#34865
// and, with its trailing space, the raw answer in
// namecheap/node-vault-client#25. (Older answers named the region: "...,
// not 'us-east-2'. ", cloud-custodian/cloud-custodian#4900.)
const msgRegion = "Credential should be scoped to a valid region. "

// verifySignature checks r's SigV4 signature against secret, for a
// server in region. The signing time must be within maxClockSkew of
// serverNow, the server clock, as STS checks it against its own, or of
// wallNow, time.Now, so that a client that does not correct its clock
// from the Date header keeps working after Advance. It returns an error
// message in STS's words, or "" when the signature is good.
func verifySignature(r *http.Request, body []byte, a sigV4Auth, secret, region string, wallNow, serverNow time.Time) string {
	const mismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	if a.region != region {
		return msgRegion
	}
	t, amzDate, err := signingTime(r)
	if err != nil {
		return mismatch
	}
	if a.service != "sts" || a.terminator != "aws4_request" || a.date != amzDate[:8] {
		return mismatch
	}
	signed := false
	for _, h := range a.signedHeaders {
		if h == "host" {
			signed = true
		}
	}
	if !signed {
		return mismatch
	}
	payloadHash := sha256Hex(body)
	if v := r.Header.Get("X-Amz-Content-Sha256"); v != "" && v != payloadHash {
		return mismatch
	}
	want := expectedSignature(secret, a, amzDate, canonicalRequest(r, a.signedHeaders, payloadHash))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(a.signature))) {
		return mismatch
	}
	if within(t, wallNow) || within(t, serverNow) {
		return ""
	}
	if early := serverNow.Add(-maxClockSkew); t.Before(early) {
		return fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, early.UTC().Format(amzDateFormat), serverNow.UTC().Format(amzDateFormat))
	}
	late := serverNow.Add(maxClockSkew)
	return fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)",
		amzDate, late.UTC().Format(amzDateFormat), serverNow.UTC().Format(amzDateFormat))
}

// within reports whether the signing time t is within maxClockSkew of now.
func within(t, now time.Time) bool {
	return !t.Before(now.Add(-maxClockSkew)) && !t.After(now.Add(maxClockSkew))
}

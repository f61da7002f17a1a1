package ststest

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveDirect runs the handler on r without a network round trip and
// checks what every answer must satisfy: a status STS uses, and an XML
// body with STS's namespace.
func serveDirect(t *testing.T, s *Server, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	switch w.Code {
	case http.StatusOK, http.StatusBadRequest, http.StatusForbidden:
	default:
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var root struct {
		XMLName xml.Name
		Xmlns   string `xml:"xmlns,attr"`
	}
	require.NoError(t, xml.Unmarshal(w.Body.Bytes(), &root), w.Body.String())
	assert.Equal(t, stsNamespace, root.Xmlns)
	if w.Code != http.StatusOK {
		assert.Equal(t, "ErrorResponse", root.XMLName.Local)
	}
	return w
}

var fuzzSeeds = []string{
	"Action=GetCallerIdentity&Version=2011-06-15",
	"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FA&RoleSessionName=s1",
	"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FNeedsMFA&RoleSessionName=s1&SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice&TokenCode=111111&DurationSeconds=900",
	"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FExternal&RoleSessionName=s1&ExternalId=ext-123",
	"Action=GetSessionToken&Version=2011-06-15&DurationSeconds=129600&SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice&TokenCode=222222",
	"Action=GetSessionToken&DurationSeconds=-1&TokenCode=%FF",
	"Action=AssumeRole&RoleArn&RoleSessionName=&DurationSeconds=99999999999999999999",
}

// FuzzSignedRequest signs arbitrary form bodies with a user's real key, so
// that the fuzzer reaches the actions' parameter handling, not only the
// signature check.
func FuzzSignedRequest(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	s := NewServer(testConfig())
	f.Cleanup(s.Close)
	creds := aws.Credentials{AccessKeyID: aliceKey, SecretAccessKey: "alice-secret"}
	signer := v4.NewSigner()
	f.Fuzz(func(t *testing.T, body string, get bool) {
		s.ResetCalls()
		method, target, rd := http.MethodPost, "http://127.0.0.1/", strings.NewReader(body)
		if get {
			method, target, rd = http.MethodGet, "http://127.0.0.1/?"+body, strings.NewReader("")
			body = ""
		}
		r, err := http.NewRequestWithContext(context.Background(), method, target, rd)
		if err != nil {
			return // not a request a client could send
		}
		if !get {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		require.NoError(t, signer.SignHTTP(context.Background(), creds, r, sha256Hex([]byte(body)), "sts", "us-east-1", time.Now()))
		w := serveDirect(t, s, r)
		calls := s.Calls()
		require.Len(t, calls, 1)
		assert.Equal(t, w.Code, calls[0].Status)
		if w.Code == http.StatusForbidden {
			assert.NotEqual(t, "SignatureDoesNotMatch", calls[0].ErrorCode, "a request the SDK signed was refused: %s", w.Body)
		}
	})
}

// FuzzUnsignedRequest throws arbitrary headers and bodies at the
// authentication path: nothing may panic, and nothing may succeed.
func FuzzUnsignedRequest(f *testing.F) {
	f.Add("POST", "AWS4-HMAC-SHA256 Credential=AKIAALICE00000000000/20240101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20240101T000000Z", "application/x-www-form-urlencoded", fuzzSeeds[0], "")
	f.Add("GET", "AWS4-HMAC-SHA256 Credential=x/y, SignedHeaders=, Signature=", "", "", "", "Action=GetCallerIdentity")
	f.Add("PUT", "AWS4-HMAC-SHA256 Credential=ASIA0000/2/3/4/5,SignedHeaders=host,Signature=zz", "Mon, 02 Jan 2006 15:04:05 GMT", "text/plain", "%zz", "a=%zz")
	f.Add("POST", "", "", "", "", "")
	f.Add("POST", "", "", "application/x-www-form-urlencoded",
		"Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FA&RoleSessionName=s1&WebIdentityToken=abcd&DurationSeconds=900", "")
	s := NewServer(testConfig()) // knows no web identity token
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, method, authz, date, contentType, body, query string) {
		s.ResetCalls()
		r, err := http.NewRequestWithContext(context.Background(), method, "http://127.0.0.1/", strings.NewReader(body))
		if err != nil {
			return
		}
		r.URL.RawQuery = query
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("Content-Type", contentType)
		w := serveDirect(t, s, r)
		assert.NotEqual(t, http.StatusOK, w.Code, "an unsigned request succeeded: %s", w.Body)
		require.Len(t, s.Calls(), 1)
	})
}

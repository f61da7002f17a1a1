package ststest

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSignatureVector checks the signature code against the worked example
// of the AWS SigV4 documentation (IAM ListUsers).
func TestSignatureVector(t *testing.T) {
	r, err := http.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	require.NoError(t, err)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	a := sigV4Auth{accessKeyID: "AKIDEXAMPLE", date: "20150830", region: "us-east-1", service: "iam",
		terminator: "aws4_request", signedHeaders: []string{"content-type", "host", "x-amz-date"}}
	canonical := canonicalRequest(r, a.signedHeaders, sha256Hex(nil))
	assert.Equal(t, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59", sha256Hex([]byte(canonical)))
	assert.Equal(t, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		expectedSignature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", a, "20150830T123600Z", canonical))
}

// rawRequest signs a request with the SDK's signer (as the SDK would),
// lets mutate change it after signing, sends it and decodes the answer.
func rawRequest(t *testing.T, s *Server, method, body, region string, at time.Time, creds aws.Credentials, mutate func(*http.Request)) (int, errorResponse, string) {
	t.Helper()
	u := s.URL + "/"
	var rd io.Reader
	if method == http.MethodGet {
		u += "?" + body
		body = ""
	} else {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, u, rd)
	require.NoError(t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if creds.AccessKeyID != "" {
		err = v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex([]byte(body)), "sts", region, at)
		require.NoError(t, err)
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var er errorResponse
	if resp.StatusCode != 200 {
		require.NoError(t, xml.Unmarshal(data, &er), string(data))
		assert.Equal(t, er.RequestID, resp.Header.Get("X-Amzn-Requestid"))
		assert.Equal(t, stsNamespace, er.Xmlns)
	}
	return resp.StatusCode, er, string(data)
}

func TestRawRequests(t *testing.T) {
	s := newTestServer(t, testConfig())
	alice := aws.Credentials{AccessKeyID: aliceKey, SecretAccessKey: "alice-secret"}
	const gci = "Action=GetCallerIdentity&Version=2011-06-15"
	now := time.Now()
	tests := []struct {
		name   string
		method string
		body   string
		region string
		at     time.Time
		creds  aws.Credentials
		mutate func(*http.Request)
		status int
		code   string
		msg    string
	}{
		{"post ok", "POST", gci, "us-east-1", now, alice, nil, 200, "", ""},
		{"get query ok", "GET", gci, "us-east-1", now, alice, nil, 200, "", ""},
		{"other region refused", "POST", gci, "eu-west-1", now, alice, nil, 403, "SignatureDoesNotMatch", msgRegion},
		{"unknown region refused", "POST", gci, "zz-nowhere-9", now, alice, nil, 403, "SignatureDoesNotMatch", msgRegion},
		{"region refused before the secret is checked", "POST", gci, "eu-west-1", now,
			aws.Credentials{AccessKeyID: aliceKey, SecretAccessKey: "wrong"}, nil, 403, "SignatureDoesNotMatch", msgRegion},
		{"two Authorization headers", "POST", gci, "us-east-1", now, alice, func(r *http.Request) {
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
		}, 400, "IncompleteSignature", "'AWS4-HMAC-SHA256' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential=" + aliceKey + "/"},
		{"a second signature for another key", "POST", gci, "us-east-1", now, alice, func(r *http.Request) {
			r.Header.Add("Authorization", "AWS4-HMAC-SHA256 Credential="+bobKey+"/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")
		}, 400, "IncompleteSignature", "'AWS4-HMAC-SHA256' not a valid key=value pair"},
		{"space after Credential=", "POST", gci, "", now, aws.Credentials{}, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential= "+aliceKey+"/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")
		}, 400, "IncompleteSignature", "'" + aliceKey + "/20240101/us-east-1/sts/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential= " + aliceKey},
		{"4 minutes skew ok", "POST", gci, "us-east-1", now.Add(-4 * time.Minute), alice, nil, 200, "", ""},
		{"signature expired", "POST", gci, "us-east-1", now.Add(-10 * time.Minute), alice, nil, 403, "SignatureDoesNotMatch", "Signature expired: "},
		{"signature in the future", "POST", gci, "us-east-1", now.Add(10 * time.Minute), alice, nil, 403, "SignatureDoesNotMatch", "Signature not yet current: "},
		{"body changed after signing", "POST", gci, "us-east-1", now, alice, func(r *http.Request) {
			b := "Action=GetCallerIdentity&Version=2011-06-15&X=1"
			r.Body = io.NopCloser(strings.NewReader(b))
			r.ContentLength = int64(len(b))
			r.Header.Del("Content-Length")
		}, 403, "SignatureDoesNotMatch", "The request signature we calculated"},
		{"content hash header lies", "POST", gci, "us-east-1", now, alice, func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte("other")))
		}, 403, "SignatureDoesNotMatch", ""},
		{"signed header changed", "POST", gci, "us-east-1", now, alice, func(r *http.Request) {
			r.Header.Set("X-Amz-Date", now.Add(time.Second).UTC().Format(amzDateFormat))
		}, 403, "SignatureDoesNotMatch", ""},
		{"missing authentication", "POST", gci, "", now, aws.Credentials{}, nil, 403, "MissingAuthenticationToken", "Request is missing Authentication Token"},
		{"malformed authorization", "POST", gci, "", now, aws.Credentials{}, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
		}, 400, "IncompleteSignature", "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'x'"},
		{"unknown action", "POST", "Action=GetAccessKeyInfo&Version=2011-06-15", "us-east-1", now, alice, nil, 400, "InvalidAction", "Could not find operation GetAccessKeyInfo for version 2011-06-15"},
		{"wrong version", "POST", "Action=GetCallerIdentity&Version=2099-01-01", "us-east-1", now, alice, nil, 400, "InvalidAction", ""},
		{"json body refused", "POST", gci, "us-east-1", now, alice, func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		}, 400, "InvalidAction", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, er, body := rawRequest(t, s, tt.method, tt.body, tt.region, tt.at, tt.creds, tt.mutate)
			require.Equal(t, tt.status, status, body)
			if tt.status == 200 {
				assert.Contains(t, body, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`)
				assert.Contains(t, body, "<Arn>arn:aws:iam::123456789012:user/alice</Arn>")
				assert.Contains(t, body, "<ResponseMetadata><RequestId>")
				return
			}
			assert.Equal(t, tt.code, er.Error.Code)
			assert.Equal(t, "Sender", er.Error.Type)
			assert.True(t, strings.HasPrefix(er.Error.Message, tt.msg), er.Error.Message)
		})
	}
}

// A signing time within five minutes of the server clock (STS's rule) or
// of the host's is accepted, and none further from both.
func TestSignatureCheckAcceptsEitherClock(t *testing.T) {
	s := newTestServer(t, testConfig())
	s.Advance(48 * time.Hour)
	alice := aws.Credentials{AccessKeyID: aliceKey, SecretAccessKey: "alice-secret"}
	const gci = "Action=GetCallerIdentity&Version=2011-06-15"
	for _, signed := range []time.Time{time.Now(), s.Now(), s.Now().Add(-4 * time.Minute)} {
		status, _, body := rawRequest(t, s, "POST", gci, "us-east-1", signed, alice, nil)
		assert.Equal(t, 200, status, body)
	}
	status, er, _ := rawRequest(t, s, "POST", gci, "us-east-1", time.Now().Add(24*time.Hour), alice, nil)
	assert.Equal(t, 403, status)
	assert.Equal(t, "SignatureDoesNotMatch", er.Error.Code)
	assert.True(t, strings.HasPrefix(er.Error.Message, "Signature expired: "), "measured against the server clock, 48 h ahead: %s", er.Error.Message)
}

func TestInjectedFaultShape(t *testing.T) {
	s := newTestServer(t, testConfig())
	s.FailNext("", 1, 503, "ServiceUnavailable")
	status, er, _ := rawRequest(t, s, "POST", "Action=GetCallerIdentity&Version=2011-06-15", "us-east-1", time.Now(),
		aws.Credentials{AccessKeyID: aliceKey, SecretAccessKey: "alice-secret"}, nil)
	assert.Equal(t, 503, status)
	assert.Equal(t, "Receiver", er.Error.Type)
	assert.Equal(t, "ServiceUnavailable", er.Error.Code)
	assert.True(t, bytes.Contains([]byte(er.Error.Message), []byte("unable")))
}

// TestCanonicalHeaderValueLeavesRequestAlone checks that computing the
// canonical form of a header does not rewrite the request's own header.
func TestCanonicalHeaderValueLeavesRequestAlone(t *testing.T) {
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
	require.NoError(t, err)
	r.Header.Add("X-Test", "  a   b  ")
	r.Header.Add("X-Test", "c")
	assert.Equal(t, "a b,c", canonicalHeaderValue(r, "x-test"))
	assert.Equal(t, []string{"  a   b  ", "c"}, r.Header.Values("X-Test"))
}

// TestServerRegion: a server in another region accepts that region's
// scope only, and AWSConfig signs for it.
func TestServerRegion(t *testing.T) {
	cfg := testConfig()
	cfg.Region = "eu-west-1"
	s := newTestServer(t, cfg)
	alice := aws.Credentials{AccessKeyID: aliceKey, SecretAccessKey: "alice-secret"}
	const gci = "Action=GetCallerIdentity&Version=2011-06-15"
	status, _, body := rawRequest(t, s, "POST", gci, "eu-west-1", time.Now(), alice, nil)
	assert.Equal(t, 200, status, body)
	status, er, _ := rawRequest(t, s, "POST", gci, "us-east-1", time.Now(), alice, nil)
	assert.Equal(t, 403, status)
	assert.Equal(t, msgRegion, er.Error.Message)

	awsCfg := s.AWSConfig("alice")
	assert.Equal(t, "eu-west-1", awsCfg.Region)
	_, err := sts.NewFromConfig(awsCfg).GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	awsCfg.Region = "us-east-1"
	_, err = sts.NewFromConfig(awsCfg).GetCallerIdentity(ctxT(t), &sts.GetCallerIdentityInput{})
	requireAPIError(t, err, "SignatureDoesNotMatch", msgRegion)

	assert.Equal(t, DefaultRegion, newTestServer(t, testConfig()).AWSConfig("alice").Region)
}

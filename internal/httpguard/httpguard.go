// Package httpguard holds what stschain adds to the AWS clients it builds
// (its STS clients, and the STS, SSO, SSO OIDC and sign-in clients of
// awsprofile): they send nothing over plain http to a host that is not
// this one, since their requests carry MFA codes, external IDs, tokens and
// the credentials of the answers; and they read no more of an answer than
// a credential service sends, so that a hostile endpoint cannot make them
// hold gigabytes.
//
// Plain http is allowed to loopback addresses (127.0.0.0/8, ::1), to
// localhost and the names under .localhost (RFC 6761 reserves them for
// loopback), and to the names under .invalid, which never resolve (RFC
// 6761): a request for one reaches nothing unless a transport of the
// process itself answers it, as the in-memory servers of tests do.
package httpguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// MaxBody bounds the body of an answer the guarded clients read. The
// largest STS answer, AssumeRole's with a session token for a role with
// session tags and policies, is a few KiB.
const MaxBody = 256 << 10

// ErrBodyTooLarge is the error of reading an answer's body past MaxBody.
var ErrBodyTooLarge = errors.New("the answer is longer than 256 KiB, more than any credential service sends")

// CleartextError refuses an endpoint that would send a request over plain
// http to a host that is not this one.
type CleartextError struct {
	Setting  string // where the endpoint comes from: "cfg.BaseEndpoint", "the resolved STS endpoint" ...
	Endpoint string // scheme and host of the endpoint, nothing more
}

func (e *CleartextError) Error() string {
	return e.Setting + " " + e.Endpoint + " uses plain http to a host that is not this one, which would send MFA codes, " +
		"external IDs and credentials across the network in clear: use https (plain http is allowed to loopback addresses and localhost only)"
}

// CheckEndpoint returns a *CleartextError naming setting when endpoint is
// a plain http URL whose host is not loopback, and nil otherwise (a URL
// that does not parse is left to the SDK, which reports it).
func CheckEndpoint(setting, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil
	}
	return check(setting, u)
}

func check(setting string, u *url.URL) error {
	if !strings.EqualFold(u.Scheme, "http") || cleartextAllowed(u.Hostname()) {
		return nil
	}
	return &CleartextError{Setting: setting, Endpoint: "http://" + u.Host}
}

// cleartextAllowed reports whether plain http may go to host: a loopback
// address, localhost, or a name under .localhost or .invalid.
func cleartextAllowed(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".invalid")
}

// AddMiddleware adds the guard to stack, as the innermost step before the
// request is sent, so that it sees the request as the transport will (its
// endpoint resolved, every rewrite done), on every attempt: it refuses a
// plain http request to a host that is not loopback with a
// *CleartextError, and makes reading the answer's body past MaxBody fail
// with ErrBodyTooLarge, so that the client's deserializer stops there. It
// has the signature of an entry of aws.Config.APIOptions.
func AddMiddleware(stack *middleware.Stack) error {
	return stack.Deserialize.Add(guard{}, middleware.After)
}

// Apply appends AddMiddleware to cfg's APIOptions without changing the
// slice cfg shared with the config it was copied from.
func Apply(cfg *aws.Config) {
	cfg.APIOptions = append(slices.Clip(cfg.APIOptions), AddMiddleware)
}

type guard struct{}

func (guard) ID() string { return "stschain.HTTPGuard" }

func (guard) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	if req, ok := in.Request.(*smithyhttp.Request); ok && req.URL != nil {
		setting := "the resolved endpoint"
		if id := awsmiddleware.GetServiceID(ctx); id != "" {
			setting = "the resolved " + id + " endpoint"
		}
		if err := check(setting, req.URL); err != nil {
			return middleware.DeserializeOutput{}, middleware.Metadata{}, err
		}
	}
	out, meta, err := next.HandleDeserialize(ctx, in)
	if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp != nil && resp.Response != nil && resp.Body != nil {
		resp.Body = &limitedBody{rc: resp.Body, left: MaxBody}
	}
	return out, meta, err
}

// limitedBody reads rc until left bytes are read, then fails with
// ErrBodyTooLarge if there is more, and from then on reads nothing.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	over bool // rc had more than left: every Read fails
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.over {
		return 0, ErrBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one more than allowed tells whether there is more
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n, b.left, b.over = int(b.left), 0, true
		return n, ErrBodyTooLarge
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

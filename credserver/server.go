package credserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Names of the environment variables [Server.Env] sets, as the AWS SDKs
// read them.
const (
	FullURIEnv   = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	AuthTokenEnv = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
)

const (
	// path is the only path the server answers on.
	path = "/credentials"
	// tokenBytes is the size of the authorization token: 256 bits.
	tokenBytes = 32
	// retrieveTimeout bounds one Retrieve of the provider, which may have
	// to ask for an MFA code.
	retrieveTimeout = 5 * time.Minute
	// staticLifetime is how far ahead the Expiration of credentials that
	// never expire is put.
	staticLifetime = time.Hour
	// maxMessage bounds the error message of an answer.
	maxMessage = 1024
)

// Server serves one provider's credentials on 127.0.0.1. Create one with
// [Start]; its methods are safe for concurrent use.
type Server struct {
	provider aws.CredentialsProvider // immutable
	url      string                  // immutable: http://127.0.0.1:PORT/credentials
	token    string                  // immutable; never formatted
	hs       *http.Server            // immutable

	served   chan struct{} // closed once Serve has returned
	serveErr error         // Serve's error; written before served is closed

	closeOnce sync.Once
	closeErr  error // written inside closeOnce
}

// Start serves p's credentials on 127.0.0.1 over the container credentials
// protocol that every AWS SDK and the AWS CLI read.
//
// It listens on a free port, makes a new random token, and answers each
// request with a fresh Retrieve of p (whose context ends when the client
// goes away, or after five minutes), so p's own caching decides when
// credentials are renewed. Call [Server.Close] when done.
func Start(p aws.CredentialsProvider) (*Server, error) {
	if p == nil {
		return nil, errors.New("credserver: the credentials provider is nil")
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("credserver: making the authorization token: %w", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("credserver: %w", err)
	}
	s := &Server{
		provider: p,
		url:      "http://" + ln.Addr().String() + path,
		token:    base64.RawURLEncoding.EncodeToString(raw),
		served:   make(chan struct{}),
	}
	s.hs = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      retrieveTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		// net/http logs what it cannot report otherwise (a panic, a bad
		// TLS handshake ...); a library stays silent.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.served)
		if err := s.hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
	}()
	return s, nil
}

// Env returns AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN as "NAME=value" entries for a child's environment.
//
// The child's environment should hold no other credential variable: the
// SDKs prefer AWS_ACCESS_KEY_ID and profiles to these.
func (s *Server) Env() []string {
	return []string{
		FullURIEnv + "=" + s.url,
		AuthTokenEnv + "=" + s.token,
	}
}

// Close stops the server and waits for requests in flight.
//
// It stops accepting connections at once and returns when every request
// being answered has been answered; a Retrieve in progress is not
// cancelled. It returns the error that stopped the server early, if one
// did. Close may be called more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		err := s.hs.Shutdown(context.Background())
		<-s.served
		s.closeErr = errors.Join(err, s.serveErr)
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("credserver: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// String describes the server by its URL, without the token.
func (s *Server) String() string { return "credserver.Server{" + s.url + "}" }

// Format makes every fmt verb print [Server.String], so that no verb can
// reach the token.
func (s *Server) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// response is the container credentials JSON, as aws-sdk-go-v2's
// endpointcreds and botocore's ContainerProvider read it.
type response struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
	AccountID       string `json:"AccountId,omitempty"`
}

// errorResponse is the error JSON both SDKs read.
type errorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case !loopbackHost(r.Host):
		writeError(w, http.StatusForbidden, "AccessDenied", "the Host header must name a loopback address")
		return
	case r.URL.Path != path:
		writeError(w, http.StatusNotFound, "NotFound", "no such path: credentials are served on "+path)
		return
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is allowed")
		return
	case !s.authorized(r.Header.Values("Authorization")):
		writeError(w, http.StatusForbidden, "AccessDenied", "missing or wrong Authorization token: send the value of "+AuthTokenEnv)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), retrieveTimeout)
	defer cancel()
	creds, err := s.provider.Retrieve(ctx)
	now := time.Now()
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, "CredentialsUnavailable", oneLine(err.Error()))
		return
	case !creds.HasKeys():
		writeError(w, http.StatusInternalServerError, "CredentialsUnavailable", "the credentials provider returned no keys")
		return
	case creds.CanExpire && !now.Before(creds.Expires):
		writeError(w, http.StatusInternalServerError, "CredentialsUnavailable", "the credentials provider returned expired credentials")
		return
	}
	expires := creds.Expires
	if !creds.CanExpire {
		expires = now.Add(staticLifetime)
	}
	writeJSON(w, http.StatusOK, response{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		Token:           creds.SessionToken,
		// Whole seconds, rounded down: never later than the truth.
		Expiration: expires.UTC().Truncate(time.Second).Format(time.RFC3339),
		AccountID:  creds.AccountID,
	})
}

// authorized reports whether the request carries exactly one Authorization
// header, and it is the token.
func (s *Server) authorized(values []string) bool {
	return len(values) == 1 && subtle.ConstantTimeCompare([]byte(values[0]), []byte(s.token)) == 1
}

// loopbackHost reports whether host, a Host header with or without a port,
// names a loopback address: an IP literal such as 127.0.0.1 or [::1], or
// localhost. Any other name may be one an attacker's DNS points at
// 127.0.0.1.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorResponse{Code: code, Message: message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	// Exactly application/json: the Go SDK decodes an error body as JSON
	// only then.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// v holds strings only; an error here is the client gone.
	_ = json.NewEncoder(w).Encode(v)
}

// oneLine returns msg on a single line, at most maxMessage bytes long.
func oneLine(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > maxMessage {
		msg = strings.ToValidUTF8(msg[:maxMessage], "") + " ..."
	}
	return msg
}

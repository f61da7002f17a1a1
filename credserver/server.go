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
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain/internal/credcheck"
	"github.com/stschain/stschain/internal/redact"
)

// Names of the environment variables [Server.Env] sets, as the AWS SDKs
// read them.
const (
	FullURIEnv   = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	AuthTokenEnv = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
	// AuthTokenFileEnv names the file holding the token, in place of
	// AuthTokenEnv, when Options.TokenFile is set: the form of EKS Pod
	// Identity, which the AWS SDKs and the AWS CLI read anew on each
	// request.
	AuthTokenFileEnv = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
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
	// headerTimeout bounds how long a connection may take to send its
	// request line and headers, and idleTimeout how long a kept-alive one
	// may wait for its next request: a client of the container
	// credentials sends its request at once, and opens a new connection
	// when its old one was closed.
	headerTimeout = 5 * time.Second
	idleTimeout   = 30 * time.Second
	// maxHeaderBytes bounds the request line and headers.
	maxHeaderBytes = 8 << 10
)

// ErrInvalidOptions is wrapped by the error of [Start] for [Options] it
// refuses: an address that is not an IP address, or would serve every
// interface.
var ErrInvalidOptions = errors.New("credserver: invalid options")

// Options configures [Start]. The zero value serves on 127.0.0.1 with the
// token in the environment.
type Options struct {
	// Addr is the address to serve on: an IP address, with a port or not
	// ("172.17.0.1", "127.0.0.1:9911", "[fd00:ec2::23]:80"), such as the
	// bridge of local containers. Optional: "" means 127.0.0.1 and a free
	// port; no port means a free port. The unspecified addresses (0.0.0.0,
	// ::), which would serve every interface, and host names, which the
	// Host check could not tell from a rebinding attack, are refused. Over
	// plain http the AWS SDKs and the AWS CLI fetch from a loopback address
	// or one of the container hosts (169.254.170.2, 169.254.170.23,
	// fd00:ec2::23) only.
	Addr string

	// TokenFile, when set, is the path of a file that Start creates,
	// readable and writable by this user only, holding the token without a
	// line end; Env then gives AuthTokenFileEnv in place of AuthTokenEnv,
	// and Close removes the file. The file must not exist (Start refuses a
	// symbolic link too). Optional.
	TokenFile string
}

// Server serves one provider's credentials. Create one with [Start]; its
// methods are safe for concurrent use.
type Server struct {
	provider  aws.CredentialsProvider // immutable
	url       string                  // immutable: http://ADDR:PORT/credentials
	addr      netip.Addr              // immutable: the address served on, unmapped
	token     *string                 // immutable; never formatted: fmt shows a pointer to a string as an address even where it skips Format
	tokenFile *tokenFile              // immutable; nil without Options.TokenFile
	ln        net.Listener            // immutable: the listening socket
	hs        *http.Server            // immutable

	served   chan struct{} // closed once Serve has returned
	serveErr error         // Serve's error; written before served is closed

	closeOnce sync.Once
	closeErr  error // written inside closeOnce
}

// Start serves p's credentials over the container credentials protocol
// that every AWS SDK and the AWS CLI read, on 127.0.0.1 or where optFns
// say.
//
// It listens on a free port, makes a new random token, and answers each
// request with a fresh Retrieve of p (whose context ends when the client
// goes away, or after five minutes), so p's own caching decides when
// credentials are renewed. Call [Server.Close] when done.
func Start(p aws.CredentialsProvider, optFns ...func(*Options)) (*Server, error) {
	if p == nil {
		return nil, errors.New("credserver: the credentials provider is nil")
	}
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	ln, ap, err := listen(o.Addr)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("credserver: making the authorization token: %w", err)
	}
	s := &Server{
		provider: p,
		url:      "http://" + ap.String() + path,
		addr:     ap.Addr(),
		token:    new(base64.RawURLEncoding.EncodeToString(raw)),
		ln:       ln,
		served:   make(chan struct{}),
	}
	if o.TokenFile != "" {
		if s.tokenFile, err = writeTokenFile(o.TokenFile, *s.token); err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	s.hs = newHTTPServer(http.HandlerFunc(s.serveHTTP))
	go func() {
		defer close(s.served)
		if err := s.hs.Serve(newLimitListener(ln)); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
	}()
	return s, nil
}

// listen returns a new listener on addr, an Options.Addr, and the address
// and port it listens on.
func listen(addr string) (net.Listener, netip.AddrPort, error) {
	ap, err := ParseAddr(addr)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	network := "tcp4"
	if ap.Addr().Is6() {
		network = "tcp6"
	}
	ln, err := net.Listen(network, ap.String())
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("credserver: %w", err)
	}
	return ln, netip.AddrPortFrom(ap.Addr(), ln.Addr().(*net.TCPAddr).AddrPort().Port()), nil
}

// ParseAddr parses addr as [Start] parses Options.Addr, so that a caller
// can check an address before it has a provider to serve: port 0 when
// addr has none, 127.0.0.1 and port 0 for "". Its errors wrap
// [ErrInvalidOptions].
func ParseAddr(addr string) (netip.AddrPort, error) {
	if addr == "" {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0), nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		ip, ipErr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"))
		if ipErr != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: address %q is not an IP address with or without a port, such as 127.0.0.1 or 172.17.0.1:9911", ErrInvalidOptions, addr)
		}
		ap = netip.AddrPortFrom(ip, 0)
	}
	if err := checkAddr(ap.Addr()); err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: address %q %v", ErrInvalidOptions, addr, err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// checkAddr refuses the addresses a server must not listen on.
func checkAddr(ip netip.Addr) error {
	switch {
	case ip.IsUnspecified():
		return errors.New("would serve on every interface: name the one address to serve on")
	case ip.IsMulticast():
		return errors.New("is a multicast address: name an address of this host")
	case ip.Zone() != "":
		return errors.New("has a zone: name an address without one")
	}
	return nil
}

// newHTTPServer is the http.Server of a Server, and of ServeStopped.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       headerTimeout,
		WriteTimeout:      retrieveTimeout + 30*time.Second,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext:       withConn,
		// net/http logs what it cannot report otherwise (a panic, a bad
		// TLS handshake ...); a library stays silent.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// Env returns, as "NAME=value" entries for a child's environment,
// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN,
// or with Options.TokenFile AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (its
// absolute path) in place of the token.
//
// The child's environment should hold no other credential variable: the
// SDKs prefer AWS_ACCESS_KEY_ID and profiles to these.
func (s *Server) Env() []string {
	if s.tokenFile != nil {
		return []string{FullURIEnv + "=" + s.url, AuthTokenFileEnv + "=" + s.tokenFile.path}
	}
	return []string{
		FullURIEnv + "=" + s.url,
		AuthTokenEnv + "=" + *s.token,
	}
}

// URL returns the server's URL, the value of FullURIEnv: such as
// http://127.0.0.1:PORT/credentials.
func (s *Server) URL() string { return s.url }

// File returns a copy of the server's listening socket, which stays bound
// and listening after Close for as long as the copy is open. A process
// given it can keep the port from anyone else once the server is gone,
// answering with [ServeStopped] (on net.FileListener of it) any client
// that still holds the URI. The caller closes it.
func (s *Server) File() (*os.File, error) {
	fl, ok := s.ln.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("credserver: the listener %T has no file", s.ln)
	}
	f, err := fl.File()
	if err != nil {
		return nil, fmt.Errorf("credserver: %w", err)
	}
	return f, nil
}

// Close stops the server, waits for requests in flight, and removes the
// token file of Options.TokenFile.
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
		if s.tokenFile != nil {
			if err := s.tokenFile.remove(); err != nil {
				s.closeErr = errors.Join(s.closeErr, fmt.Errorf("removing the token file: %w", err))
			}
		}
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("credserver: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// String describes the server by its URL, without the token.
func (s *Server) String() string { return "credserver.Server{" + s.url + "}" }

// Format makes every fmt verb print [Server.String], %q quoting it, so
// that no verb can reach the token.
func (s *Server) Format(f fmt.State, verb rune) { redact.Format(f, verb, s.String()) }

// LogValue is String, so that log/slog's handlers show the URL.
func (s *Server) LogValue() slog.Value { return slog.StringValue(s.String()) }

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
	// The token first: a request without it costs nothing more, and its
	// connection is closed.
	if !s.authorized(r.Header.Values("Authorization")) {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusForbidden, "AccessDenied", "missing or wrong Authorization token: send the value of "+AuthTokenEnv+" or the content of the file "+AuthTokenFileEnv+" names")
		return
	}
	trustConn(r.Context())
	switch {
	case !s.allowedHost(r.Host):
		writeError(w, http.StatusForbidden, "AccessDenied", "the Host header must name the server's address or a loopback address")
		return
	case r.URL.Path != path:
		writeError(w, http.StatusNotFound, "NotFound", "no such path: credentials are served on "+path)
		return
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is allowed")
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
	if err := credcheck.Check(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken); err != nil {
		writeError(w, http.StatusInternalServerError, "CredentialsUnavailable", "the credentials provider returned malformed credentials: "+err.Error())
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
	return len(values) == 1 && subtle.ConstantTimeCompare([]byte(values[0]), []byte(*s.token)) == 1
}

// allowedHost reports whether host, a Host header with or without a port,
// names the server's address or a loopback address: an IP literal such as
// 127.0.0.1 or [::1], or localhost. Any other name may be one an
// attacker's DNS points at the address (DNS rebinding).
func (s *Server) allowedHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && (ip.Unmap().IsLoopback() || ip.Unmap() == s.addr)
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

package ststest

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Call records one request the server answered, failed ones included.
type Call struct {
	// Action is the request's Action parameter, such as "AssumeRole".
	Action string
	// CallerARN is the ARN of the authenticated caller (a user ARN, or an
	// assumed-role session ARN); empty when authentication failed, and for
	// AssumeRoleWithWebIdentity, which is not signed.
	CallerARN string
	// CallerAccessKeyID is the access key ID the request was signed with,
	// as named by its Authorization header (even when it was refused).
	CallerAccessKeyID string
	// RoleARN is the RoleArn parameter.
	RoleARN string
	// RoleSessionName is the RoleSessionName parameter.
	RoleSessionName string
	// SerialNumber is the SerialNumber parameter.
	SerialNumber string
	// TokenCode is the TokenCode parameter.
	TokenCode string
	// DurationSeconds is the DurationSeconds parameter as requested; 0 when
	// absent or not a number.
	DurationSeconds int
	// Status is the HTTP status code of the answer.
	Status int
	// ErrorCode is the STS error code of a failed call; empty on success.
	ErrorCode string
	// IssuedAccessKeyID is the access key ID of the credentials issued by a
	// successful AssumeRole, AssumeRoleWithWebIdentity, GetSessionToken or
	// GetFederationToken;
	// empty otherwise.
	IssuedAccessKeyID string
	// WebIdentitySubject is the subject of the web identity token of an
	// AssumeRoleWithWebIdentity call, when the server knows the token
	// ([WebIdentityToken.Subject]); empty otherwise. The token itself is
	// never recorded.
	WebIdentitySubject string
}

// Server is a fake AWS STS endpoint. It answers the awsQuery protocol
// (POST form bodies, and GET query strings) for AssumeRole,
// AssumeRoleWithWebIdentity, GetSessionToken, GetFederationToken and
// GetCallerIdentity, and the sign-in federation endpoint
// ([Server.FederationURL]), verifies every signed request's SigV4
// signature, and records each call.
//
// Server is an [http.Handler]. [NewServer] serves it on 127.0.0.1;
// [NewUnstartedServer] lets a test change Listener or HTTPServer before
// [Server.Start]; [NewInMemoryServer] serves it without sockets.
//
// All methods are safe for concurrent use; the exported fields are set
// before Start and only read afterwards.
type Server struct {
	// URL is the base URL of the server with no trailing slash:
	// http://127.0.0.1:PORT, set by Start, or http://ststest.invalid for
	// an in-memory server.
	URL string

	// Listener is the listener Start serves on. NewUnstartedServer leaves
	// it nil, and Start then listens on a free port of 127.0.0.1; a test
	// may set its own before Start. Close closes it. Optional.
	Listener net.Listener

	// HTTPServer is the server Start serves with. NewUnstartedServer sets
	// it to an http.Server whose Handler is the Server itself, with a
	// ReadHeaderTimeout of 10 seconds, a ReadTimeout of 30 seconds (the
	// whole request, body included) and an IdleTimeout of 60 seconds, so
	// that a client which trickles a request or leaves a connection open
	// cannot hold it for ever. There is no WriteTimeout: answers delayed
	// by [Server.SetLatency] are cut short by the client or by Close. A
	// test may change it before Start, to shorten a timeout say.
	HTTPServer *http.Server

	cfg   Config           // immutable after construction
	users map[string]*User // by name; immutable after construction
	keys  map[string]*User // by access key ID; immutable after construction
	roles map[string]*Role // by ARN; immutable after construction
	// webTokens are the web identity tokens by Token; immutable after
	// construction.
	webTokens map[string]*WebIdentityToken

	hs        *httptest.Server // set by Start; nil before
	memory    *http.Client     // the in-memory client; nil unless NewInMemoryServer
	closing   chan struct{}    // closed by Close; cuts latency short
	closeOnce sync.Once
	memWG     sync.WaitGroup // in-memory requests in flight; Add under mu while !memClosed

	// latencyHook, when not nil, is called as a request starts waiting
	// for its latency. Tests set it before the first request.
	latencyHook func()

	mu       sync.Mutex
	offset   time.Duration   // guarded by mu: how far Advance moved the clock
	latency  time.Duration   // guarded by mu
	calls    callLog         // guarded by mu
	faults   []fault         // guarded by mu
	outage   *fault          // guarded by mu; nil when there is none
	revoked  map[string]bool // guarded by mu: access key IDs
	sessions sessionStore    // guarded by mu
	// usedCodes and usedSteps are guarded by mu: the MFACodes used, by
	// "serial\x00code", and the TOTP steps used that may still match, by
	// serial.
	usedCodes map[string]bool
	usedSteps map[string][]int64
	// returned, nReturned and handedOut are guarded by mu: a bit for each
	// six-digit code TokenCode returned or may not return (allocated on
	// first use), how many bits are set, and the returned codes not yet
	// used, with their device's serial number.
	returned  []uint64
	nReturned int
	handedOut map[string]string
	// memClosed is guarded by mu: Close was called on an in-memory server.
	memClosed bool
}

// fault is one FailNext rule.
type fault struct {
	action string
	n      int
	status int
	code   string
}

// NewServer returns a server for cfg, started on a free port of
// 127.0.0.1: it is [NewUnstartedServer] followed by [Server.Start]. It
// panics when cfg is invalid (see [Config.Validate]), naming the problem,
// or when it cannot listen. Call [Server.Close] when done.
func NewServer(cfg Config) *Server {
	s := NewUnstartedServer(cfg)
	s.Start()
	return s
}

// NewUnstartedServer returns a server for cfg that does not listen yet.
// Change its Listener or HTTPServer, then call [Server.Start]. It panics
// when cfg is invalid (see [Config.Validate]), naming the problem.
func NewUnstartedServer(cfg Config) *Server {
	s := newServer(cfg)
	s.HTTPServer = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return s
}

// inMemoryURL is the URL of every in-memory server. The .invalid domain
// (RFC 2606) makes sure a request that misses the in-memory transport
// fails instead of reaching a real host.
const inMemoryURL = "http://ststest.invalid"

// NewInMemoryServer returns a server for cfg that is reached in memory:
// the transport of its [Server.Client], which [Server.AWSConfig] uses,
// serves each request by calling [Server.ServeHTTP] in the calling
// goroutine. There is no socket and no goroutine of the server's own, so
// the server and the SDK clients built with AWSConfig work inside a
// testing/synctest bubble: [Server.SetLatency] delays, session lifetimes
// and TOTP steps pass in the bubble's fake time. Create the server inside
// the bubble that uses it.
//
// Its URL is http://ststest.invalid; its client refuses requests for any
// other host. It cannot be started. Close it when done: Close waits for
// the requests in flight, and later requests fail. It panics when cfg is
// invalid (see [Config.Validate]), naming the problem.
func NewInMemoryServer(cfg Config) *Server {
	s := newServer(cfg)
	s.URL = inMemoryURL
	s.memory = &http.Client{Transport: memoryTransport{s}}
	return s
}

func newServer(cfg Config) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	s := &Server{
		cfg:       cfg.clone(),
		users:     map[string]*User{},
		keys:      map[string]*User{},
		roles:     map[string]*Role{},
		webTokens: map[string]*WebIdentityToken{},
		closing:   make(chan struct{}),
		revoked:   map[string]bool{},
		sessions:  newSessionStore(),
		calls:     callLog{max: cmp.Or(cfg.MaxCalls, DefaultMaxCalls)},
		usedCodes: map[string]bool{},
		usedSteps: map[string][]int64{},
		handedOut: map[string]string{},
	}
	for i := range s.cfg.Users {
		u := &s.cfg.Users[i]
		s.users[u.Name] = u
		s.keys[u.AccessKeyID] = u
	}
	for i := range s.cfg.Roles {
		r := &s.cfg.Roles[i]
		s.roles[r.ARN] = r
	}
	for i := range s.cfg.WebIdentityTokens {
		w := &s.cfg.WebIdentityTokens[i]
		s.webTokens[w.Token] = w
	}
	return s
}

// Start serves s on s.Listener (a new listener on a free port of
// 127.0.0.1 when it is nil) with s.HTTPServer, and sets s.URL. It panics
// when s was started before or cannot listen.
func (s *Server) Start() {
	switch {
	case s.memory != nil:
		panic("ststest: Start on an in-memory server")
	case s.hs != nil:
		panic("ststest: Server already started")
	}
	if s.Listener == nil {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			panic(fmt.Sprintf("ststest: listen on 127.0.0.1: %v", err))
		}
		s.Listener = ln
	}
	s.hs = &httptest.Server{Listener: s.Listener, Config: s.HTTPServer}
	s.hs.Start()
	s.URL = strings.TrimSuffix(s.hs.URL, "/")
}

// Close stops the server: it cuts any [Server.SetLatency] delay short,
// then waits for in-flight requests to finish. Close may be called more
// than once, and on a server that was never started (it closes the
// Listener a test set).
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	switch {
	case s.memory != nil:
		s.mu.Lock()
		s.memClosed = true
		s.mu.Unlock()
		s.memWG.Wait()
	case s.hs != nil:
		s.hs.Close()
	case s.Listener != nil:
		_ = s.Listener.Close()
	}
}

// Client returns an HTTP client for the server: for a started server,
// one whose idle connections are closed by [Server.Close]; for an
// in-memory server, one whose transport calls the handler directly (see
// [NewInMemoryServer]). [Server.AWSConfig] uses it. It panics on a server
// that is neither started nor in memory.
func (s *Server) Client() *http.Client {
	switch {
	case s.memory != nil:
		return s.memory
	case s.hs != nil:
		return s.hs.Client()
	}
	panic("ststest: Client called before Start")
}

// region returns the region of the endpoint: [Config.Region], or
// DefaultRegion.
func (s *Server) region() string { return cmp.Or(s.cfg.Region, DefaultRegion) }

// UserARN returns arn:aws:iam::ACCOUNT:user/NAME. It does not check that
// the user exists.
func (s *Server) UserARN(name string) string {
	return "arn:aws:iam::" + s.cfg.AccountID + ":user/" + name
}

// AssumedRoleARN returns the ARN that sessions of role roleARN named
// sessionName have: arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION.
func (s *Server) AssumedRoleARN(roleARN, sessionName string) string {
	acct, name := splitRoleARN(roleARN)
	return "arn:aws:sts::" + acct + ":assumed-role/" + name + "/" + sessionName
}

func (s *Server) user(name string) *User {
	u, ok := s.users[name]
	if !ok {
		panic(fmt.Sprintf("ststest: no user %q in Config.Users", name))
	}
	return u
}

// UserCredentials returns a static provider of the named user's long-term
// keys. It panics when the Config has no such user: a test naming an
// unknown user is a bug in the test.
func (s *Server) UserCredentials(name string) aws.CredentialsProvider {
	u := s.user(name)
	return credentials.NewStaticCredentialsProvider(u.AccessKeyID, u.SecretAccessKey, "")
}

// AWSConfig returns an aws.Config that sends every request of every
// service client to this server: the server's region ([Config.Region],
// us-east-1 by default), BaseEndpoint s.URL, the named user's long-term
// keys, [Server.Client] as HTTP client, and the SDK's standard retryer (3
// attempts) with its backoff capped at 100 ms so that retried faults keep
// tests fast. It panics when the Config has no such user, or when the
// server is neither started nor in memory.
func (s *Server) AWSConfig(user string) aws.Config {
	return aws.Config{
		Region:       s.region(),
		BaseEndpoint: aws.String(s.URL),
		Credentials:  s.UserCredentials(user),
		HTTPClient:   s.Client(),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxBackoff = 100 * time.Millisecond
			})
		},
	}
}

// Calls returns the calls recorded since the start or the last
// [Server.ResetCalls], oldest first, as a new slice: the most recent
// [Config.MaxCalls] of them (10,000 by default).
//
// With patterns, it returns only the calls that match at least one of
// them. A call matches a pattern when every field that is not zero in the
// pattern equals the call's field, so a zero Call matches every call:
//
//	srv.Calls(ststest.Call{Action: "AssumeRole", RoleARN: arn})
//
// returns the AssumeRole calls for arn, and len of it counts them.
func (s *Server) Calls(pattern ...Call) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	s.calls.each(func(c Call) {
		if len(pattern) == 0 || slices.ContainsFunc(pattern, func(p Call) bool { return p.matches(c) }) {
			out = append(out, c)
		}
	})
	return out
}

// matches reports whether every field of p that is not zero equals c's.
func (p Call) matches(c Call) bool {
	eq := func(pv, cv string) bool { return pv == "" || pv == cv }
	return eq(p.Action, c.Action) &&
		eq(p.CallerARN, c.CallerARN) &&
		eq(p.CallerAccessKeyID, c.CallerAccessKeyID) &&
		eq(p.RoleARN, c.RoleARN) &&
		eq(p.RoleSessionName, c.RoleSessionName) &&
		eq(p.SerialNumber, c.SerialNumber) &&
		eq(p.TokenCode, c.TokenCode) &&
		(p.DurationSeconds == 0 || p.DurationSeconds == c.DurationSeconds) &&
		(p.Status == 0 || p.Status == c.Status) &&
		eq(p.ErrorCode, c.ErrorCode) &&
		eq(p.IssuedAccessKeyID, c.IssuedAccessKeyID) &&
		eq(p.WebIdentitySubject, c.WebIdentitySubject)
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.reset()
}

// FailNext makes the next n requests whose Action is action ("" means any
// action) fail with the HTTP status and STS error code given, such as 503
// "ServiceUnavailable" or 400 "Throttling", before authentication. Rules
// queue up: a request is matched against the oldest rule that still has
// failures left and matches its action. n <= 0 does nothing. It panics
// when status is not a 4xx or 5xx code or code is empty: a test asking
// for an impossible answer is a bug in the test.
func (s *Server) FailNext(action string, n, status int, code string) {
	checkFault("FailNext", status, code)
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{action: action, n: n, status: status, code: code})
}

// SetOutage makes every request whose Action is action ("" means any
// action) fail with the HTTP status and STS error code given, such as 503
// "ServiceUnavailable", before authentication, until [Server.EndOutage].
// Rules queued by [Server.FailNext] wait until the outage ends. It panics
// as FailNext does on a status or code it cannot answer with.
func (s *Server) SetOutage(action string, status int, code string) {
	checkFault("SetOutage", status, code)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = &fault{action: action, status: status, code: code}
}

func checkFault(method string, status int, code string) {
	if status < 400 || status > 599 {
		panic(fmt.Sprintf("ststest: %s with HTTP status %d; want 400 to 599", method, status))
	}
	if code == "" {
		panic(fmt.Sprintf("ststest: %s with an empty error code", method))
	}
}

// EndOutage ends the outage [Server.SetOutage] started; it does nothing
// when there is none.
func (s *Server) EndOutage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = nil
}

// SetLatency delays every answer by d (0 removes the delay). The delay is
// cut short when the request's client goes away or the server closes.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Revoke makes the access key ID unusable from now on: requests signed
// with it fail with InvalidClientTokenId. It applies to a user's long-term
// key and to issued session keys alike; sessions issued earlier from a
// revoked key stay valid, as on AWS when a key is deactivated.
func (s *Server) Revoke(accessKeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[accessKeyID] = true
}

// Advance moves the server's clock forward by d, which must not be
// negative. The server clock decides when issued sessions expire, which
// Expiration values they carry, which TOTP codes are current, and the
// Date header of every answer. The SigV4 clock-skew check still compares
// the signing time with time.Now, so SDK clients keep working after
// Advance.
func (s *Server) Advance(d time.Duration) {
	if d < 0 {
		panic("ststest: Advance with a negative duration")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// SetClockOffset sets the server's clock to time.Now plus d, replacing
// what [Server.Advance] did: a positive d is a host whose clock is behind
// STS's, a negative one a host whose clock is ahead. Sessions issued
// earlier keep their expiry on the server clock.
func (s *Server) SetClockOffset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = d
}

// Now returns the server's clock: time.Now (the wall clock, or a
// synctest bubble's clock) plus every [Server.Advance], or the offset
// [Server.SetClockOffset] set. Compute TOTP codes against it.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Server) nowLocked() time.Time { return time.Now().Add(s.offset) }

// splitRoleARN returns the account and the name (without path) of a role
// ARN.
func splitRoleARN(arn string) (account, name string) {
	m := roleARNRE.FindStringSubmatch(arn)
	if m == nil {
		return "", arn
	}
	return m[1], m[3]
}

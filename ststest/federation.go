package ststest

import (
	"crypto/hmac"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// FederationPath is the path of the sign-in federation endpoint a
// [Server] serves beside STS: [Server.FederationURL].
const FederationPath = "/federation"

// Limits of the federation endpoint and of GetFederationToken, as AWS
// documents them.
const (
	// SigninTokenLifetime is how long a sign-in token can be used to sign
	// in.
	SigninTokenLifetime = 15 * time.Minute
	// MinConsoleDuration and MaxConsoleDuration bound the SessionDuration
	// of getSigninToken.
	MinConsoleDuration = 15 * time.Minute
	MaxConsoleDuration = 12 * time.Hour
	// DefaultFederationTokenDuration and MaxFederationTokenDuration are
	// GetFederationToken's default and longest session.
	DefaultFederationTokenDuration = 12 * time.Hour
	MaxFederationTokenDuration     = 36 * time.Hour
)

// Errors of [Server.ValidateSigninToken].
var (
	// ErrInvalidSigninToken: the token is not one the server issued.
	ErrInvalidSigninToken = errors.New("ststest: not a sign-in token of this server")
	// ErrExpiredSigninToken: the token is older than SigninTokenLifetime.
	ErrExpiredSigninToken = errors.New("ststest: the sign-in token has expired")
	// ErrSigninSessionKind: the token was made from a GetSessionToken
	// session, which the console refuses in these words.
	ErrSigninSessionKind = errors.New("ststest: only federation tokens or assume role tokens may be used for federated login")
)

// SigninSession is what a sign-in token stands for: the session it was
// made from, and the console session it opens.
type SigninSession struct {
	// AccessKeyID is the access key ID of the session.
	AccessKeyID string
	// ARN is the session's caller ARN: an assumed role's
	// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/NAME) or a federated user's
	// (arn:aws:sts::ACCOUNT:federated-user/NAME).
	ARN string
	// ConsoleDuration is the SessionDuration getSigninToken was asked for;
	// zero when none was sent.
	ConsoleDuration time.Duration
	// Issued is when the token was made, on the server clock.
	Issued time.Time
}

// FederationURL returns the URL of the sign-in federation endpoint the
// server serves: s.URL + FederationPath. It answers, as
// https://signin.aws.amazon.com/federation does, GET (or form POST)
// requests with:
//
//   - Action=getSigninToken, Session (the JSON {"sessionId",
//     "sessionKey", "sessionToken"} of temporary credentials) and an
//     optional SessionDuration (900 to 43200 seconds): 200 and
//     {"SigninToken": TOKEN}. The session must be one the server issued,
//     unexpired, with its secret and token. SessionDuration is refused
//     for a role session assumed with another session (role chaining)
//     and for a federated user's session, as AWS refuses it. A
//     GetSessionToken session gets a token, which signing in refuses.
//   - Action=login, SigninToken, Destination and Issuer: 302 to
//     Destination when [Server.ValidateSigninToken] accepts the token.
//
// Either answers 400 Bad Request with an empty body for a request it
// refuses, as the federation endpoint answers with no word of why. Both
// are recorded among the server's calls ([Server.Calls]): Action
// "getSigninToken" or "login", CallerAccessKeyID the session's access key
// ID, DurationSeconds the SessionDuration, Status, and ErrorCode, one of
// "MalformedSession", "InvalidSession", "ExpiredSession",
// "SessionDurationNotAllowed", "InvalidSessionDuration" and
// "InvalidSigninToken" (the server's own words: the endpoint has none).
func (s *Server) FederationURL() string { return s.URL + FederationPath }

// serveFederation answers a request of FederationURL.
func (s *Server) serveFederation(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodySize+1))
	form, perr := requestForm(r, body)
	call := Call{Action: form.Get("Action")}
	code := ""
	switch {
	case err != nil || len(body) > maxBodySize || perr != nil:
		code = "MalformedRequest"
	case call.Action == "getSigninToken":
		var token string
		token, code = s.getSigninToken(form, &call)
		if code == "" {
			s.record(&call, "")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"SigninToken": token})
			return
		}
	case call.Action == "login":
		ss, verr := s.ValidateSigninToken(form.Get("SigninToken"))
		call.CallerAccessKeyID = ss.AccessKeyID
		dest, derr := url.Parse(form.Get("Destination"))
		if verr == nil && derr == nil && dest.IsAbs() {
			s.record(&call, "")
			http.Redirect(w, r, dest.String(), http.StatusFound)
			return
		}
		code = "InvalidSigninToken"
	default:
		code = "InvalidAction"
	}
	s.record(&call, code)
	w.WriteHeader(http.StatusBadRequest)
}

// record records call with the status its code, "" for success, says.
func (s *Server) record(call *Call, code string) {
	call.Status, call.ErrorCode = http.StatusOK, code
	if code != "" {
		call.Status = http.StatusBadRequest
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.add(*call)
}

// getSigninToken checks the session and the console duration of a
// getSigninToken request and returns the sign-in token, or the code of
// its refusal.
func (s *Server) getSigninToken(form url.Values, call *Call) (token, code string) {
	var sess struct {
		ID    string `json:"sessionId"`
		Key   string `json:"sessionKey"`
		Token string `json:"sessionToken"`
	}
	if err := json.Unmarshal([]byte(form.Get("Session")), &sess); err != nil || sess.ID == "" {
		return "", "MalformedSession"
	}
	call.CallerAccessKeyID = sess.ID
	var d time.Duration
	if raw := form.Get("SessionDuration"); raw != "" {
		n, err := strconv.Atoi(raw)
		call.DurationSeconds = n
		d = time.Duration(n) * time.Second
		if err != nil || d < MinConsoleDuration || d > MaxConsoleDuration {
			return "", "InvalidSessionDuration"
		}
	}

	s.mu.Lock()
	ns := s.sessions.byKey[sess.ID]
	now := s.nowLocked()
	revoked := s.revoked[sess.ID]
	s.mu.Unlock()
	switch {
	case ns == nil || revoked:
		if akid, _, ok := s.sessions.openToken(sess.Token); ok && akid == sess.ID && !revoked {
			return "", "ExpiredSession" // issued, and forgotten once expired
		}
		return "", "InvalidSession"
	case subtle.ConstantTimeCompare([]byte(sess.Key), []byte(ns.secret)) != 1 ||
		subtle.ConstantTimeCompare([]byte(sess.Token), []byte(ns.token)) != 1:
		return "", "InvalidSession"
	case !now.Before(ns.expires):
		return "", "ExpiredSession"
	case d != 0 && (ns.chained || ns.federated != ""):
		return "", "SessionDurationNotAllowed"
	}
	kind := "role"
	if ns.role == nil && ns.federated == "" {
		kind = "user" // a GetSessionToken session: signing in refuses it
	}
	return s.sessions.sealSignin(ns.accessKeyID, ns.arn(s), kind, d, now), ""
}

// ValidateSigninToken returns what a sign-in token the federation endpoint
// issued stands for, as the console does when a user signs in with it. It
// fails with ErrInvalidSigninToken for a token the server did not issue,
// ErrExpiredSigninToken once SigninTokenLifetime has passed on the server
// clock, and ErrSigninSessionKind for one made from a GetSessionToken
// session.
func (s *Server) ValidateSigninToken(token string) (SigninSession, error) {
	ss, kind, ok := s.sessions.openSignin(token)
	switch {
	case !ok:
		return SigninSession{}, ErrInvalidSigninToken
	case !s.Now().Before(ss.Issued.Add(SigninTokenLifetime)):
		return ss, ErrExpiredSigninToken
	case kind != "role":
		return ss, ErrSigninSessionKind
	}
	return ss, nil
}

// signinPrefix starts every sign-in token, so that it is never taken for
// a session token.
const signinPrefix = "ststest-signin-"

// sealSignin returns a sign-in token naming the session, its kind, the
// console duration and when it was issued, with an HMAC of it all, so
// that the server keeps no state for it.
func (st *sessionStore) sealSignin(accessKeyID, arn, kind string, d time.Duration, issued time.Time) string {
	body := strings.Join([]string{"signin", accessKeyID, arn, kind, strconv.FormatInt(int64(d/time.Second), 10),
		strconv.FormatInt(issued.UnixNano(), 10)}, "\x00")
	m := hmac.New(sha512.New512_256, st.key)
	m.Write([]byte(body))
	return signinPrefix + base64.RawURLEncoding.EncodeToString(m.Sum([]byte(body)))
}

// openSignin returns what a token sealSignin made names; ok is false for
// any other string.
func (st *sessionStore) openSignin(token string) (ss SigninSession, kind string, ok bool) {
	rest, found := strings.CutPrefix(token, signinPrefix)
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	const macSize = 32
	if !found || err != nil || len(raw) <= macSize {
		return SigninSession{}, "", false
	}
	body, mac := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	m := hmac.New(sha512.New512_256, st.key)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return SigninSession{}, "", false
	}
	f := strings.Split(string(body), "\x00")
	if len(f) != 6 || f[0] != "signin" {
		return SigninSession{}, "", false
	}
	secs, _ := strconv.ParseInt(f[4], 10, 64)
	nanos, _ := strconv.ParseInt(f[5], 10, 64)
	return SigninSession{AccessKeyID: f[1], ARN: f[2], ConsoleDuration: time.Duration(secs) * time.Second,
		Issued: time.Unix(0, nanos)}, f[3], true
}

// FederatedUserARN returns the ARN of the federated user named name:
// arn:aws:sts::ACCOUNT:federated-user/NAME.
func (s *Server) FederatedUserARN(name string) string {
	return "arn:aws:sts::" + s.cfg.AccountID + ":federated-user/" + name
}

// getFederationTokenResponse is GetFederationToken's answer.
type getFederationTokenResponse struct {
	XMLName xml.Name `xml:"GetFederationTokenResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials   xmlCredentials `xml:"Credentials"`
		FederatedUser struct {
			FederatedUserID string `xml:"FederatedUserId"`
			Arn             string `xml:"Arn"`
		} `xml:"FederatedUser"`
		PackedPolicySize int `xml:"PackedPolicySize"`
	} `xml:"GetFederationTokenResult"`
	ResponseMetadata xmlResponseMetadata `xml:"ResponseMetadata"`
}

// maxPolicyLength is the longest inline session policy (the STS model's
// sessionPolicyDocumentType).
const maxPolicyLength = 2048

// msgGFTSession is STS's refusal of GetFederationToken signed with a
// session.
const msgGFTSession = "Cannot call GetFederationToken with session credentials"

// getFederationToken issues a federated user's session to a user signing
// with long-term keys: Name (2 to 32 characters of [\w+=,.@-]),
// DurationSeconds (900 to 129600, 43200 by default), an optional Policy.
func (s *Server) getFederationToken(c *caller, form url.Values, reqID string, call *Call) (any, *apiError) {
	var v validation
	name := form.Get("Name")
	if !form.Has("Name") {
		v.add(nil, "name", "not be null")
	} else {
		v.length(name, "name", 2, 32)
		v.pattern(name, "name", sessionNameRE, `[\w+=,.@-]*`)
	}
	d := durationParam(form, &v, DefaultFederationTokenDuration, int(MaxFederationTokenDuration/time.Second))
	if policy := form.Get("Policy"); len(policy) > maxPolicyLength {
		v.add(nil, "policy", fmt.Sprintf("have length less than or equal to %d", maxPolicyLength))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if c.session != nil {
		return nil, errorf(http.StatusForbidden, "AccessDenied", msgGFTSession)
	}
	user := c.user
	sess := s.issue(d, func(ns *session) {
		ns.user = user
		ns.federated = name
	})
	call.IssuedAccessKeyID = sess.accessKeyID

	var out getFederationTokenResponse
	out.Xmlns = stsNamespace
	out.Result.Credentials = credentialsXML(sess)
	out.Result.FederatedUser.Arn = s.FederatedUserARN(name)
	out.Result.FederatedUser.FederatedUserID = s.cfg.AccountID + ":" + name
	out.ResponseMetadata.RequestID = reqID
	return &out, nil
}

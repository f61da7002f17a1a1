package ststest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stschain/stschain/internal/stslimits"
)

const (
	apiVersion  = "2011-06-15"
	maxBodySize = 1 << 20

	msgInvalidToken = "The security token included in the request is invalid."
	msgExpiredToken = "The security token included in the request is expired"
	msgChaining     = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
	msgMaxDuration  = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
	msgGSTSession   = "Cannot call GetSessionToken with session credentials"

	// MFA failures, in STS's words (AccessDenied, 403). A wrong or reused
	// code: AssumeRole's text ends with a space, GetSessionToken's does
	// not. A serial number that is not the caller's device: the same text
	// for both actions. A serial number without a code, or a code without
	// a serial number: msgMFABoth.
	msgMFAAssume = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
	msgMFAGST    = "MultiFactorAuthentication failed with invalid MFA one time pass code."
	msgMFASerial = "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user."
	msgMFABoth   = "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
)

var (
	sessionNameRE  = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDRE   = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
	serialNumberRE = regexp.MustCompile(`^[\w+=/:,.@-]*$`)
	digitsRE       = regexp.MustCompile(`^\d*$`)
)

// apiError is an error answer.
type apiError struct {
	status  int
	code    string
	message string
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// caller is the authenticated principal of a request.
type caller struct {
	arn     string
	userID  string
	account string
	user    *User    // long-term key or GetSessionToken session
	session *session // nil for a long-term key
}

// principalARN is the ARN trust policies see: the user ARN, or the role
// ARN of an assumed-role session.
func (c *caller) principalARN(s *Server) string {
	if c.session != nil && c.session.role != nil {
		return c.session.role.ARN
	}
	return s.UserARN(c.user.Name)
}

// ServeHTTP answers one STS request, as described in the package
// documentation, and records it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == FederationPath {
		s.serveFederation(w, r)
		return
	}
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	// The answer's Date is the server clock's, as STS's is STS's: clients
	// measure their clock's skew from it.
	w.Header().Set("Date", s.Now().UTC().Format(http.TimeFormat))

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodySize+1))
	call := Call{}
	if err != nil || len(body) > maxBodySize {
		s.finish(w, reqID, &call, errorf(http.StatusBadRequest, "MalformedInput", "The request body could not be read."), nil)
		return
	}
	form, perr := requestForm(r, body)
	call.Action = form.Get("Action")
	call.RoleARN = form.Get("RoleArn")
	call.RoleSessionName = form.Get("RoleSessionName")
	call.SerialNumber = form.Get("SerialNumber")
	call.TokenCode = form.Get("TokenCode")
	call.DurationSeconds, _ = strconv.Atoi(form.Get("DurationSeconds"))
	if a, err := parseAuthorization(r.Header.Get("Authorization")); err == nil {
		call.CallerAccessKeyID = a.accessKeyID
	}

	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		if s.latencyHook != nil {
			s.latencyHook()
		}
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.closing:
		}
		t.Stop()
	}

	if f := s.takeFault(call.Action); f != nil {
		s.finish(w, reqID, &call, f, nil)
		return
	}
	if perr != nil {
		s.finish(w, reqID, &call, perr, nil)
		return
	}
	// AssumeRoleWithWebIdentity is not signed: the token authenticates it.
	var c *caller
	var aerr *apiError
	if call.Action != "AssumeRoleWithWebIdentity" {
		c, aerr = s.authenticate(r, body)
		if c != nil {
			call.CallerARN = c.arn
		}
		if aerr != nil {
			s.finish(w, reqID, &call, aerr, nil)
			return
		}
	}
	if v := form.Get("Version"); v != "" && v != apiVersion {
		s.finish(w, reqID, &call, errorf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", call.Action, v), nil)
		return
	}
	var resp any
	switch call.Action {
	case "GetCallerIdentity":
		resp = s.getCallerIdentity(c, reqID)
	case "AssumeRole":
		resp, aerr = s.assumeRole(c, form, reqID, &call)
	case "GetSessionToken":
		resp, aerr = s.getSessionToken(c, form, reqID, &call)
	case "GetFederationToken":
		resp, aerr = s.getFederationToken(c, form, reqID, &call)
	case "AssumeRoleWithWebIdentity":
		resp, aerr = s.assumeRoleWithWebIdentity(form, reqID, &call)
	case "":
		aerr = errorf(http.StatusBadRequest, "MissingAction", "Missing Action")
	default:
		aerr = errorf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", call.Action, apiVersion)
	}
	s.finish(w, reqID, &call, aerr, resp)
}

// finish records the call and writes the answer: resp on success, else
// the error in STS's XML shape.
func (s *Server) finish(w http.ResponseWriter, reqID string, call *Call, e *apiError, resp any) {
	if e != nil {
		call.Status, call.ErrorCode = e.status, e.code
		call.IssuedAccessKeyID = ""
	} else {
		call.Status = http.StatusOK
	}
	s.mu.Lock()
	s.calls.add(*call)
	s.mu.Unlock()
	if e == nil {
		writeXML(w, http.StatusOK, resp)
		return
	}
	var er errorResponse
	er.Xmlns = stsNamespace
	er.Error.Type = "Sender"
	if e.status >= 500 {
		er.Error.Type = "Receiver"
	}
	er.Error.Code = e.code
	er.Error.Message = e.message
	er.RequestID = reqID
	writeXML(w, e.status, &er)
}

// requestForm returns the request's parameters: the query string, plus a
// form-encoded POST body.
func requestForm(r *http.Request, body []byte) (url.Values, *apiError) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return url.Values{}, errorf(http.StatusBadRequest, "MalformedQueryString", "The query string is malformed.")
	}
	if r.Method == http.MethodPost && len(body) > 0 {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			return form, errorf(http.StatusBadRequest, "InvalidAction", "Only the awsQuery protocol (application/x-www-form-urlencoded) is supported")
		}
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return form, errorf(http.StatusBadRequest, "MalformedQueryString", "The request body is malformed.")
		}
		for k, v := range bf {
			form[k] = append(form[k], v...)
		}
	} else if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return form, errorf(http.StatusBadRequest, "InvalidAction", "Unsupported HTTP method %s", r.Method)
	}
	return form, nil
}

func (s *Server) takeFault(action string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.outage; o != nil && (o.action == "" || o.action == action) {
		return &apiError{status: o.status, code: o.code, message: faultMessage(o.code)}
	}
	for i := range s.faults {
		f := &s.faults[i]
		if f.n > 0 && (f.action == "" || f.action == action) {
			f.n--
			out := &apiError{status: f.status, code: f.code, message: faultMessage(f.code)}
			if f.n == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return out
		}
	}
	return nil
}

func faultMessage(code string) string {
	switch code {
	case "Throttling":
		return "Rate exceeded"
	case "ServiceUnavailable":
		return "Service is unable to handle request."
	case "InternalFailure":
		return "An internal error has occurred"
	}
	return "ststest: injected failure " + code
}

// authenticate finds the signer of r and verifies its signature.
func (s *Server) authenticate(r *http.Request, body []byte) (*caller, *apiError) {
	// Several Authorization headers are one comma-separated list (RFC
	// 9110, section 5.3), which is no valid signature: the second
	// algorithm name is refused as a component without "=", as AWS
	// answered a doubled header in envoyproxy/envoy#23702.
	h := strings.Join(r.Header.Values("Authorization"), ", ")
	if h == "" {
		return nil, errorf(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "IncompleteSignature", "%s", err.Error())
	}
	token := r.Header.Get("X-Amz-Security-Token")

	s.mu.Lock()
	revoked := s.revoked[a.accessKeyID]
	user := s.keys[a.accessKeyID]
	sess := s.sessions.byKey[a.accessKeyID]
	now := s.nowLocked()
	s.mu.Unlock()

	invalid := errorf(http.StatusForbidden, "InvalidClientTokenId", msgInvalidToken)
	var secret string
	forgotten := false
	c := &caller{account: s.cfg.AccountID}
	switch {
	case revoked:
		return nil, invalid
	case user != nil:
		if token != "" {
			return nil, invalid
		}
		secret = user.SecretAccessKey
		c.user = user
		c.arn = s.UserARN(user.Name)
		c.userID = principalID("AIDA", c.arn)
	case sess != nil:
		if subtle.ConstantTimeCompare([]byte(token), []byte(sess.token)) != 1 {
			return nil, invalid
		}
		secret = sess.secret
		c.session = sess
		if sess.role != nil {
			acct, _ := splitRoleARN(sess.role.ARN)
			c.account = acct
			c.arn = s.AssumedRoleARN(sess.role.ARN, sess.sessionName)
			c.userID = principalID("AROA", sess.role.ARN) + ":" + sess.sessionName
		} else {
			c.user = sess.user
			c.arn = sess.arn(s)
			c.userID = principalID("AIDA", c.arn)
		}
	default:
		// A session the server issued and forgot once it expired: its
		// token says which.
		akid, arn, ok := s.sessions.openToken(token)
		if !ok || akid != a.accessKeyID {
			return nil, invalid
		}
		secret = s.sessions.secret(akid)
		c.arn = arn
		forgotten = true
	}
	if msg := verifySignature(r, body, a, secret, s.region(), time.Now(), s.Now()); msg != "" {
		return nil, errorf(http.StatusForbidden, "SignatureDoesNotMatch", "%s", msg)
	}
	if forgotten || sess != nil && !now.Before(sess.expires) {
		return c, errorf(http.StatusBadRequest, "ExpiredToken", msgExpiredToken)
	}
	return c, nil
}

func (s *Server) getCallerIdentity(c *caller, reqID string) any {
	var out getCallerIdentityResponse
	out.Xmlns = stsNamespace
	out.Result.Arn = c.arn
	out.Result.UserID = c.userID
	out.Result.Account = c.account
	out.ResponseMetadata.RequestID = reqID
	return &out
}

// validation collects STS's "N validation errors detected" messages.
type validation []string

func (v *validation) add(value any, field, constraint string) {
	val := "null"
	if value != nil {
		val = fmt.Sprintf("'%v'", value)
	}
	*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: Member must %s", val, field, constraint))
}

// addHidden adds a constraint failure of a parameter whose value is a
// credential, leaving the value out: "Value at 'field' failed ...".
func (v *validation) addHidden(field, constraint string) {
	*v = append(*v, fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must %s", field, constraint))
}

// length checks a string parameter's length as STS does, one bound at a
// time: "have length greater than or equal to MIN" or "have length less
// than or equal to MAX".
func (v *validation) length(value, field string, min, max int) {
	switch {
	case len(value) < min:
		v.add(value, field, fmt.Sprintf("have length greater than or equal to %d", min))
	case len(value) > max:
		v.add(value, field, fmt.Sprintf("have length less than or equal to %d", max))
	}
}

// pattern checks a string parameter against re, whose text in STS's
// message is shown.
func (v *validation) pattern(value, field string, re *regexp.Regexp, shown string) {
	if !re.MatchString(value) {
		v.add(value, field, "satisfy regular expression pattern: "+shown)
	}
}

func (v validation) err() *apiError {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return errorf(http.StatusBadRequest, "ValidationError", "1 validation error detected: %s", v[0])
	}
	return errorf(http.StatusBadRequest, "ValidationError", "%d validation errors detected: %s", len(v), strings.Join(v, "; "))
}

// durationParam parses DurationSeconds, checking its bounds.
func durationParam(form url.Values, v *validation, def time.Duration, max int) time.Duration {
	raw, ok := form["DurationSeconds"]
	if !ok || len(raw) == 0 {
		return def
	}
	n, err := strconv.Atoi(raw[0])
	switch {
	case err != nil:
		v.add(raw[0], "durationSeconds", "be a number")
		return 0
	case n < int(stslimits.MinDuration/time.Second):
		v.add(n, "durationSeconds", "have value greater than or equal to 900")
	case n > max:
		v.add(n, "durationSeconds", fmt.Sprintf("have value less than or equal to %d", max))
	}
	return time.Duration(n) * time.Second
}

// mfaParams validates SerialNumber and TokenCode against the STS model
// (serialNumberType: 9 to 256 characters of [\w+=/:,.@-]; tokenCodeType:
// 6 characters of [\d]).
func mfaParams(form url.Values, v *validation) (serial, code string) {
	serial, code = form.Get("SerialNumber"), form.Get("TokenCode")
	if form.Has("SerialNumber") {
		v.length(serial, "serialNumber", 9, 256)
		v.pattern(serial, "serialNumber", serialNumberRE, `[\w+=/:,.@-]*`)
	}
	if form.Has("TokenCode") {
		v.length(code, "tokenCode", 6, 6)
		v.pattern(code, "tokenCode", digitsRE, `[\d]*`)
	}
	return serial, code
}

// mfaError checks the MFA parameters of a request that sent at least one
// of them, for user u (nil when the caller is an assumed-role session,
// which has no device), and returns STS's refusal, or nil when the code
// is good (and now used). codeMsg is the action's wrong-code message.
func (s *Server) mfaError(u *User, serial, code, codeMsg string) *apiError {
	switch {
	case serial == "" || code == "":
		return errorf(http.StatusForbidden, "AccessDenied", "%s", msgMFABoth)
	case u == nil || u.MFASerial == "" || serial != u.MFASerial:
		return errorf(http.StatusForbidden, "AccessDenied", "%s", msgMFASerial)
	case !s.checkMFA(u, serial, code):
		return errorf(http.StatusForbidden, "AccessDenied", "%s", codeMsg)
	}
	return nil
}

// roleParams validates RoleArn and RoleSessionName, which AssumeRole and
// AssumeRoleWithWebIdentity both require, and returns them.
func roleParams(form url.Values, v *validation) (roleARN, name string) {
	roleARN = form.Get("RoleArn")
	if !form.Has("RoleArn") {
		v.add(nil, "roleArn", "not be null")
	} else {
		v.length(roleARN, "roleArn", 20, 2048)
	}
	name = form.Get("RoleSessionName")
	if !form.Has("RoleSessionName") {
		v.add(nil, "roleSessionName", "not be null")
	} else {
		v.length(name, "roleSessionName", 2, 64)
		v.pattern(name, "roleSessionName", sessionNameRE, `[\w+=,.@-]*`)
	}
	return roleARN, name
}

func (s *Server) assumeRole(c *caller, form url.Values, reqID string, call *Call) (any, *apiError) {
	var v validation
	roleARN, name := roleParams(form, &v)
	d := durationParam(form, &v, stslimits.DefaultAssumeRoleDuration, int(stslimits.MaxAssumeRoleDuration/time.Second))
	extID := form.Get("ExternalId")
	if form.Has("ExternalId") {
		v.length(extID, "externalId", 2, 1224)
		v.pattern(extID, "externalId", externalIDRE, `[\w+=,.@:\/-]*`)
	}
	serial, code := mfaParams(form, &v)
	if err := v.err(); err != nil {
		return nil, err
	}

	denied := errorf(http.StatusForbidden, "AccessDenied",
		"User: %s is not authorized to perform: sts:AssumeRole on resource: %s", c.arn, roleARN)
	role := s.roles[roleARN]
	if role == nil || !s.trusts(role, c) {
		return nil, denied
	}
	if role.ExternalID != "" && subtle.ConstantTimeCompare([]byte(extID), []byte(role.ExternalID)) != 1 {
		return nil, denied
	}
	mfa := c.session != nil && c.session.mfa
	if serial != "" || code != "" {
		// c.user is nil for an assumed-role session: it has no MFA device
		// of its own to present.
		if err := s.mfaError(c.user, serial, code, msgMFAAssume); err != nil {
			return nil, err
		}
		mfa = true
	}
	if role.RequireMFA && !mfa {
		return nil, denied
	}
	maxD := role.MaxSessionDuration
	if maxD == 0 {
		maxD = stslimits.DefaultRoleMaxSessionDuration
	}
	if c.session != nil && d > stslimits.RoleChainingMaxDuration {
		return nil, errorf(http.StatusBadRequest, "ValidationError", msgChaining)
	}
	if d > maxD {
		return nil, errorf(http.StatusBadRequest, "ValidationError", msgMaxDuration)
	}
	if role.Lifetime != 0 {
		d = role.Lifetime
	}
	sess := s.issue(d, func(ns *session) {
		ns.role = role
		ns.sessionName = name
		ns.mfa = mfa
		ns.chained = c.session != nil
	})
	call.IssuedAccessKeyID = sess.accessKeyID

	var out assumeRoleResponse
	out.Xmlns = stsNamespace
	out.Result.AssumedRoleUser.Arn = s.AssumedRoleARN(role.ARN, name)
	out.Result.AssumedRoleUser.AssumedRoleID = principalID("AROA", role.ARN) + ":" + name
	out.Result.Credentials = credentialsXML(sess)
	out.ResponseMetadata.RequestID = reqID
	return &out, nil
}

// trusts reports whether the role's trust policy names the caller.
func (s *Server) trusts(role *Role, c *caller) bool {
	p := c.principalARN(s)
	acct := s.cfg.AccountID
	if c.session != nil && c.session.role != nil {
		acct, _ = splitRoleARN(c.session.role.ARN)
	}
	for _, t := range role.Trust {
		if t == p || t == acct || t == "arn:aws:iam::"+acct+":root" {
			return true
		}
	}
	return false
}

func (s *Server) getSessionToken(c *caller, form url.Values, reqID string, call *Call) (any, *apiError) {
	var v validation
	d := durationParam(form, &v, stslimits.DefaultGetSessionTokenDuration, int(stslimits.MaxGetSessionTokenDuration/time.Second))
	serial, code := mfaParams(form, &v)
	if err := v.err(); err != nil {
		return nil, err
	}
	if c.session != nil {
		return nil, errorf(http.StatusForbidden, "AccessDenied", msgGSTSession)
	}
	mfa := false
	if serial != "" || code != "" {
		if err := s.mfaError(c.user, serial, code, msgMFAGST); err != nil {
			return nil, err
		}
		mfa = true
	}
	if s.cfg.SessionTokenLifetime != 0 {
		d = s.cfg.SessionTokenLifetime
	}
	user := c.user
	sess := s.issue(d, func(ns *session) {
		ns.user = user
		ns.mfa = mfa
	})
	call.IssuedAccessKeyID = sess.accessKeyID

	var out getSessionTokenResponse
	out.Xmlns = stsNamespace
	out.Result.Credentials = credentialsXML(sess)
	out.ResponseMetadata.RequestID = reqID
	return &out, nil
}

func credentialsXML(ns *session) xmlCredentials {
	return xmlCredentials{
		AccessKeyID:     ns.accessKeyID,
		SecretAccessKey: ns.secret,
		SessionToken:    ns.token,
		Expiration:      formatExpiration(ns.expires),
	}
}

const (
	upperAlnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomInt returns a uniform random integer in [0, n).
func randomInt(n int64) int64 {
	v, _ := rand.Int(rand.Reader, big.NewInt(n)) // crypto/rand never fails
	return v.Int64()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

// randomString draws n characters from alphabet, whose length must be a
// power of two no larger than 256.
func randomString(n int, alphabet string) string {
	b := randomBytes(n)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// principalID derives a stable unique ID (AIDA..., AROA...) from an ARN.
func principalID(prefix, arn string) string {
	h := sha256.Sum256([]byte(arn))
	b := make([]byte, 17)
	for i := range b {
		b[i] = upperAlnum[int(h[i])%len(upperAlnum)]
	}
	return prefix + string(b)
}

func newRequestID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func validExternalID(s string) bool {
	return len(s) >= 2 && len(s) <= 1224 && externalIDRE.MatchString(s)
}

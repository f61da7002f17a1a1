package ststest

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Portal serves, in front of a [Server], the two services whose
// credentials a profile can hold without STS: the AWS IAM Identity Center
// portal's GetRoleCredentials (the sso service: SSO profiles), and the
// sign-in service's CreateOAuth2Token with a refresh token (aws login's
// login_session profiles). Every other request goes to the Server, so
// that AWS_ENDPOINT_URL pointed at a Portal reaches all three, as it
// reaches them at AWS.
//
// Both answer with sessions of the Server's roles, which the Server
// accepts as it accepts its own: GetRoleCredentials for account A and
// role R (with an access token added by [Portal.AddAccessToken]) a
// session of the role arn:aws:iam::A:role/R; CreateOAuth2Token (with a
// refresh token added by [Portal.AddRefreshToken]) a session of the role
// the token names, and a new refresh token in its place. The Server
// records both calls among its own ([Server.Calls]): Action
// "GetRoleCredentials" or "CreateOAuth2Token", RoleARN, Status, ErrorCode
// and IssuedAccessKeyID. A session lasts the role's Lifetime, else one
// hour (a sign-in session at most 15 minutes, as the service grants).
//
// Errors have the services' shapes: GetRoleCredentials answers 401
// UnauthorizedException for an unknown or expired access token and 403
// ForbiddenException for a role the Server does not have;
// CreateOAuth2Token answers 401 AccessDeniedException with error
// TOKEN_EXPIRED for an unknown refresh token, and 400
// ValidationException for a request without a DPoP proof. A Portal is
// safe for concurrent use.
type Portal struct {
	srv *Server

	mu      sync.Mutex
	access  map[string]time.Time // guarded by mu: SSO access token -> expiry (server clock)
	refresh map[string]string    // guarded by mu: refresh token -> role ARN
}

// NewPortal returns a Portal in front of srv. Serve it with
// httptest.NewServer(portal), or call its ServeHTTP.
func NewPortal(srv *Server) *Portal {
	return &Portal{srv: srv, access: map[string]time.Time{}, refresh: map[string]string{}}
}

// AddAccessToken makes the portal accept token (the accessToken of the
// SSO token cache that aws sso login writes) until expires, on the
// Server's clock.
func (p *Portal) AddAccessToken(token string, expires time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.access[token] = expires
}

// AddRefreshToken makes the sign-in service accept token (the
// refreshToken of the login cache that aws login writes) once, for a
// session of roleARN.
func (p *Portal) AddRefreshToken(token, roleARN string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refresh[token] = roleARN
}

// ServeHTTP answers GET /federation/credentials and POST /v1/token, and
// hands every other request to the Server.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/federation/credentials":
		p.roleCredentials(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/token":
		p.oauth2Token(w, r)
	default:
		p.srv.ServeHTTP(w, r)
	}
}

// portalError writes a REST-JSON error of the sso and signin services.
func portalError(w http.ResponseWriter, status int, code string, body map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (p *Portal) record(c Call) {
	p.srv.mu.Lock()
	defer p.srv.mu.Unlock()
	p.srv.calls.add(c)
}

// roleCredentials is GetRoleCredentials.
func (p *Portal) roleCredentials(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	account, name := q.Get("account_id"), q.Get("role_name")
	call := Call{Action: "GetRoleCredentials", RoleARN: "arn:aws:iam::" + account + ":role/" + name}
	fail := func(status int, code, msg string) {
		call.Status, call.ErrorCode = status, code
		p.record(call)
		portalError(w, status, code, map[string]string{"message": msg})
	}
	p.mu.Lock()
	expires, ok := p.access[r.Header.Get("X-Amz-Sso_bearer_token")]
	p.mu.Unlock()
	if !ok || !p.srv.Now().Before(expires) {
		fail(http.StatusUnauthorized, "UnauthorizedException", "Session token not found or invalid")
		return
	}
	role := p.srv.roles[call.RoleARN]
	if account != p.srv.cfg.AccountID || role == nil {
		fail(http.StatusForbidden, "ForbiddenException", "No access")
		return
	}
	sess := p.srv.issue(cmp.Or(role.Lifetime, time.Hour), func(ns *session) {
		ns.role, ns.sessionName = role, "sso-user"
	})
	call.Status, call.IssuedAccessKeyID = http.StatusOK, sess.accessKeyID
	p.record(call)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"roleCredentials": map[string]any{
		"accessKeyId":     sess.accessKeyID,
		"secretAccessKey": sess.secret,
		"sessionToken":    sess.token,
		"expiration":      sess.expires.UnixMilli(),
	}})
}

// maxLoginLifetime is the longest session the sign-in service grants.
const maxLoginLifetime = 15 * time.Minute

// oauth2Token is CreateOAuth2Token with grantType refresh_token.
func (p *Portal) oauth2Token(w http.ResponseWriter, r *http.Request) {
	call := Call{Action: "CreateOAuth2Token"}
	fail := func(status int, code string, body map[string]string) {
		call.Status, call.ErrorCode = status, code
		p.record(call)
		portalError(w, status, code, body)
	}
	var in struct {
		ClientID     string `json:"clientId"`
		GrantType    string `json:"grantType"`
		RefreshToken string `json:"refreshToken"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBodySize)).Decode(&in); err != nil || in.GrantType != "refresh_token" || in.ClientID == "" {
		fail(http.StatusBadRequest, "ValidationException", map[string]string{"message": "want clientId, and grantType refresh_token"})
		return
	}
	if r.Header.Get("DPoP") == "" {
		fail(http.StatusBadRequest, "ValidationException", map[string]string{"message": "missing DPoP proof"})
		return
	}
	p.mu.Lock()
	roleARN, ok := p.refresh[in.RefreshToken]
	delete(p.refresh, in.RefreshToken)
	next := "refresh-" + randomString(24, upperAlnum)
	if ok {
		p.refresh[next] = roleARN
	}
	p.mu.Unlock()
	call.RoleARN = roleARN
	role := p.srv.roles[roleARN]
	if !ok || role == nil {
		fail(http.StatusUnauthorized, "AccessDeniedException", map[string]string{"error": "TOKEN_EXPIRED", "message": "The refresh token has expired"})
		return
	}
	life := min(cmp.Or(role.Lifetime, maxLoginLifetime), maxLoginLifetime)
	sess := p.srv.issue(life, func(ns *session) { ns.role, ns.sessionName = role, "login-user" })
	call.Status, call.IssuedAccessKeyID = http.StatusOK, sess.accessKeyID
	p.record(call)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"accessToken":  map[string]string{"accessKeyId": sess.accessKeyID, "secretAccessKey": sess.secret, "sessionToken": sess.token},
		"expiresIn":    int(life / time.Second),
		"refreshToken": next,
		"tokenType":    "aws_sigv4",
		"idToken":      "id-" + strconv.Itoa(len(next)),
	})
}

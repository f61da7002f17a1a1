package ststest

import (
	"container/heap"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"strings"
	"time"
)

// session is a set of temporary credentials the server issued.
type session struct {
	accessKeyID string
	secret      string
	token       string
	expires     time.Time // server clock
	user        *User     // the user behind a GetSessionToken session; nil for roles
	role        *Role     // the role of an AssumeRole session
	sessionName string
	mfa         bool   // MFA-authenticated
	chained     bool   // a role session assumed with another session
	federated   string // the federated user of a GetFederationToken session
}

// arn is the caller ARN of the session: the user's, or the assumed
// role's.
func (ns *session) arn(s *Server) string {
	switch {
	case ns.role != nil:
		return s.AssumedRoleARN(ns.role.ARN, ns.sessionName)
	case ns.federated != "":
		return s.FederatedUserARN(ns.federated)
	}
	return s.UserARN(ns.user.Name)
}

// sessionStore holds the sessions that have not expired. Expired ones are
// forgotten as new ones are issued, so the store holds no more sessions
// than are valid at once; their credentials still get ExpiredToken,
// because the token describes itself (see sealToken).
type sessionStore struct {
	key      []byte              // HMAC key of tokens and secrets; immutable
	byKey    map[string]*session // by access key ID
	byExpiry sessionHeap
}

func newSessionStore() sessionStore {
	return sessionStore{key: randomBytes(32), byKey: map[string]*session{}}
}

// issue creates and stores a session lasting d on the server clock, first
// forgetting the sessions that have expired.
func (s *Server) issue(d time.Duration, fill func(*session)) *session {
	ns := &session{accessKeyID: "ASIA" + randomString(16, upperAlnum)}
	fill(ns)
	st := &s.sessions
	ns.secret = st.secret(ns.accessKeyID)
	ns.token = st.sealToken(ns.accessKeyID, ns.arn(s))
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	for len(st.byExpiry) > 0 && !now.Before(st.byExpiry[0].expires) {
		delete(st.byKey, heap.Pop(&st.byExpiry).(*session).accessKeyID)
	}
	ns.expires = now.Add(d)
	st.byKey[ns.accessKeyID] = ns
	heap.Push(&st.byExpiry, ns)
	return ns
}

// tokenPrefix starts every issued session token, as the tokens of STS's
// regional endpoints start with IQoJb3JpZ2lu (base64 of "\x21\x0a\x09origin").
const tokenPrefix = "IQoJb3JpZ2luX2VjE"

// sealToken returns a session token naming the access key ID and the
// session's caller ARN, with random padding (issued tokens are several
// hundred characters long, as STS's are) and an HMAC of it all, in the
// standard base64 alphabet, as STS's tokens are.
func (st *sessionStore) sealToken(accessKeyID, arn string) string {
	body := accessKeyID + "\x00" + arn + "\x00" + base64.RawStdEncoding.EncodeToString(randomBytes(200))
	m := hmac.New(sha512.New512_256, st.key)
	m.Write([]byte(body))
	return tokenPrefix + base64.StdEncoding.EncodeToString(m.Sum([]byte(body)))
}

// openToken returns the access key ID and caller ARN a token this server
// sealed names; ok is false for any other token.
func (st *sessionStore) openToken(token string) (accessKeyID, arn string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(token, tokenPrefix))
	const macSize = 32
	if err != nil || !strings.HasPrefix(token, tokenPrefix) || len(raw) <= macSize {
		return "", "", false
	}
	body, mac := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	m := hmac.New(sha512.New512_256, st.key)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return "", "", false
	}
	f := strings.SplitN(string(body), "\x00", 3)
	if len(f) != 3 {
		return "", "", false
	}
	return f[0], f[1], true
}

// secret returns the secret access key of an issued access key ID,
// derived from the store's key so that it can be computed again after
// the session is forgotten.
func (st *sessionStore) secret(accessKeyID string) string {
	m := hmac.New(sha512.New, st.key)
	m.Write([]byte("secret\x00" + accessKeyID))
	b := m.Sum(nil)[:40]
	for i := range b {
		b[i] = secretAlphabet[int(b[i])%len(secretAlphabet)]
	}
	return string(b)
}

// sessionHeap orders sessions by expiry, soonest first (container/heap).
type sessionHeap []*session

func (h sessionHeap) Len() int           { return len(h) }
func (h sessionHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h sessionHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *sessionHeap) Push(x any)        { *h = append(*h, x.(*session)) }
func (h *sessionHeap) Pop() any {
	old := *h
	ns := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return ns
}

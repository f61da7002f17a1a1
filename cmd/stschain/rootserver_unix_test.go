//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRootRunsOnceForManyProcesses starts 20 credential-process runs at
// once for a role over a credential_process root, on one cache directory:
// the root's process runs once, and the role is assumed once, for all.
func TestRootRunsOnceForManyProcesses(t *testing.T) {
	t.Parallel()
	const processes = 20
	bin := binary(t)
	srv, _, url := rootServers(t, 0)
	h := newTestHome(t)
	writeRoots(t, h, srv, false)
	config := rootsConfig(h) + "\n[profile top]\nrole_arn = " + roleA + "\nsource_profile = proc\n"
	require.NoError(t, os.WriteFile(h.config, []byte(config), 0o600))

	ctx, cancel := context.WithTimeout(t.Context(), testTime)
	defer cancel()
	outputs := make([]result, processes)
	var wg sync.WaitGroup
	for i := range processes {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, bin, "credential-process", "--profile", "top", "--cache-dir", h.cache)
			cmd.Env = h.environ("AWS_ENDPOINT_URL=" + url)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			code := 0
			if err := cmd.Run(); err != nil {
				code = -1
			}
			outputs[i] = result{code, stdout.String(), stderr.String()}
		})
	}
	wg.Wait()
	for i, o := range outputs {
		require.Equal(t, 0, o.code, "process %d: stderr: %s", i, o.stderr)
		assert.Empty(t, o.stderr, "process %d", i)
		assert.Equal(t, outputs[0].stdout, o.stdout, "process %d printed other credentials", i)
	}
	assert.Equal(t, 1, processRuns(t, h), "the root's credential_process ran once")
	calls := srv.Calls()
	require.Len(t, calls, 1, "one call in all: %v", actions(srv))
	assert.Equal(t, "AssumeRole", calls[0].Action)
	assert.Equal(t, roleA, calls[0].RoleARN)
	assert.Equal(t, calls[0].IssuedAccessKeyID, decodeOutput(t, outputs[0].stdout).AccessKeyID)
}

// rootFetch is one call of a root, as the proxy in front of it saw it.
type rootFetch struct {
	action     string
	sent       time.Time
	expiration time.Time // of the credentials answered; zero when the call failed
}

// rootProxy records, in front of the SSO portal and STS, the calls that
// make a root's credentials: GetRoleCredentials and
// AssumeRoleWithWebIdentity.
type rootProxy struct {
	URL string

	mu      sync.Mutex
	fetches []rootFetch // guarded by mu
}

func newRootProxy(t *testing.T, target string) *rootProxy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &rootProxy{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		action := ""
		switch {
		case r.URL.Path == "/federation/credentials":
			action = "GetRoleCredentials"
		case form.Get("Action") == "AssumeRoleWithWebIdentity":
			action = "AssumeRoleWithWebIdentity"
		default:
			rp.ServeHTTP(w, r)
			return
		}
		f := rootFetch{action: action, sent: time.Now()}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			var sso struct {
				RoleCredentials struct{ Expiration int64 } `json:"roleCredentials"`
			}
			var web struct {
				Expiration string `xml:"AssumeRoleWithWebIdentityResult>Credentials>Expiration"`
			}
			if action == "GetRoleCredentials" && json.Unmarshal(rec.Body.Bytes(), &sso) == nil {
				f.expiration = time.UnixMilli(sso.RoleCredentials.Expiration)
			} else if xml.Unmarshal(rec.Body.Bytes(), &web) == nil {
				f.expiration, _ = time.Parse(time.RFC3339, web.Expiration)
			}
		}
		p.mu.Lock()
		p.fetches = append(p.fetches, f)
		p.mu.Unlock()
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(hs.Close)
	p.URL = hs.URL
	return p
}

func (p *rootProxy) recorded() []rootFetch {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.fetches)
}

// TestExecServerRootAcrossLifetimes runs, through exec --server, a Go
// program using config.LoadDefaultConfig that calls STS ten times a
// second on the credentials of a profile without a role (an SSO profile;
// a web identity profile), whose sessions live three seconds, until it
// has used five of them: every call succeeds, and the root is asked once
// a cycle, each time after the refresh window of the session it replaces
// opened (a third of its life before its expiry) and, unlike the root's
// own cache, before that session expired, as the proxy in front of it
// saw.
func TestExecServerRootAcrossLifetimes(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the several-session run of exec --server in -short mode")
	}
	t.Parallel()
	bin := binary(t)
	child := sdkChildBuild.wait(t)
	for _, tc := range []struct{ profile, action string }{
		{"sso", "GetRoleCredentials"},
		{"web", "AssumeRoleWithWebIdentity"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			t.Parallel()
			srv, _, portal := rootServers(t, sessionLife)
			proxy := newRootProxy(t, portal)
			h := newTestHome(t)
			writeRoots(t, h, srv, false)
			ctx, cancel := context.WithTimeout(t.Context(), testTime)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "exec", "--server", "--profile", tc.profile, "--endpoint-url", proxy.URL,
				"--cache-dir", h.cache, "--", child, "-keys", "-sessions", fmt.Sprint(goSessions))
			cmd.Env = h.environ("AWS_ENDPOINT_URL="+srv.URL, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			assert.Empty(t, stderr.String())

			keys := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
				f := strings.Fields(line)
				require.Len(t, f, 3, "a failed call: %q", line)
				keys[f[2]] = true
			}
			assert.GreaterOrEqual(t, len(keys), goSessions, "sessions the child used")

			fetches := proxy.recorded()
			require.NotEmpty(t, fetches)
			early := 0 // renewals before the session they replace expired
			for i, f := range fetches {
				require.Equal(t, tc.action, f.action)
				require.False(t, f.expiration.IsZero(), "fetch %d failed", i)
				if i > 0 {
					prev := fetches[i-1]
					window := prev.expiration.Add(-prev.expiration.Sub(prev.sent) / 3)
					assert.False(t, f.sent.Before(window), "fetch %d came %v before the refresh window of the session it replaced opened", i, window.Sub(f.sent))
					if f.sent.Before(prev.expiration) {
						early++
					}
				}
			}
			assert.GreaterOrEqual(t, len(fetches), goSessions, "one fetch per session used")
			// The root's own cache would renew at expiry only, never
			// before; a busy machine may make any one renewal late (the
			// windows here are a second long), not all of them.
			assert.Positive(t, early, "renewals before the session they replace expired")
			for _, c := range srv.Calls() {
				assert.Contains(t, []string{tc.action, "GetCallerIdentity"}, c.Action)
				assert.Equal(t, 200, c.Status, "%+v", c)
			}
			t.Logf("%d fetches of the root for %d sessions used, %d renewals before expiry", len(fetches), len(keys), early)
		})
	}
}

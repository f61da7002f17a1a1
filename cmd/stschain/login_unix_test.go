//go:build unix

package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// loginHome is a scratch HOME with the profiles admin (role A from
// source's keys), chained (role B from admin's session) and source
// (alice's keys), all at srv.
func loginHome(t *testing.T, srv *ststest.Server) (testHome, []string) {
	t.Helper()
	h := newTestHome(t)
	config := "[profile source]\nregion = us-east-1\nendpoint_url = " + srv.URL + "\n\n" +
		"[profile admin]\nregion = us-east-1\nrole_arn = " + roleA + "\nsource_profile = source\nrole_session_name = admin\nendpoint_url = " + srv.URL + "\n\n" +
		"[profile chained]\nregion = us-east-1\nrole_arn = " + roleB + "\nsource_profile = admin\nrole_session_name = chained\nendpoint_url = " + srv.URL + "\n"
	require.NoError(t, os.WriteFile(h.config, []byte(config), 0o600))
	return h, h.environ()
}

// signinURL checks that u is a sign-in URL of srv's federation endpoint
// for the console of us-east-1, and returns what its token stands for.
func signinURL(t *testing.T, srv *ststest.Server, u string) ststest.SigninSession {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err, u)
	assert.Equal(t, srv.FederationURL(), parsed.Scheme+"://"+parsed.Host+parsed.Path)
	q := parsed.Query()
	assert.Equal(t, "login", q.Get("Action"))
	assert.Equal(t, "stschain", q.Get("Issuer"))
	assert.Equal(t, "https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1", q.Get("Destination"))
	ss, err := srv.ValidateSigninToken(q.Get("SigninToken"))
	require.NoError(t, err)
	return ss
}

// login --stdout prints a sign-in URL whose token the federation endpoint
// accepts: for a role profile, with the session's remaining life as the
// console's; for a chained role, with no console duration, which AWS
// would refuse; for long-term keys, through GetFederationToken.
func TestLoginStdout(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	h, env := loginHome(t, srv)
	login := func(t *testing.T, args ...string) string {
		t.Helper()
		r := runBinary(t, env, "", append([]string{"login", "--stdout", "--federation-url", srv.FederationURL(), "--cache-dir", h.cache}, args...)...)
		require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
		assert.Empty(t, r.stderr)
		require.True(t, strings.HasSuffix(r.stdout, "\n") && strings.Count(r.stdout, "\n") == 1, "the URL alone: %q", r.stdout)
		assertNoSecret(t, r.stdout)
		return strings.TrimSuffix(r.stdout, "\n")
	}

	t.Run("a role profile", func(t *testing.T) {
		ss := signinURL(t, srv, login(t, "admin"))
		assert.Equal(t, srv.AssumedRoleARN(roleA, "admin"), ss.ARN)
		assert.Greater(t, ss.ConsoleDuration, 55*time.Minute, "the role session's remaining life")
		assert.LessOrEqual(t, ss.ConsoleDuration, time.Hour)
		ss = signinURL(t, srv, login(t, "admin", "--console-duration", "30m"))
		assert.Equal(t, 30*time.Minute, ss.ConsoleDuration)
	})
	t.Run("a chained role", func(t *testing.T) {
		srv.ResetCalls()
		ss := signinURL(t, srv, login(t, "chained"))
		assert.Equal(t, srv.AssumedRoleARN(roleB, "chained"), ss.ARN)
		assert.Zero(t, ss.ConsoleDuration)
		calls := srv.Calls(ststest.Call{Action: "getSigninToken"})
		require.Len(t, calls, 1)
		assert.Zero(t, calls[0].DurationSeconds, "no SessionDuration sent")
	})
	t.Run("a role on long-term keys by --role-arn", func(t *testing.T) {
		ss := signinURL(t, srv, login(t, "source", "--role-arn", roleA, "--session-name", "flag"))
		assert.Equal(t, srv.AssumedRoleARN(roleA, "flag"), ss.ARN)
		assert.NotZero(t, ss.ConsoleDuration)
	})
	t.Run("long-term keys", func(t *testing.T) {
		srv.ResetCalls()
		ss := signinURL(t, srv, login(t, "source"))
		assert.Equal(t, srv.FederatedUserARN(userName), ss.ARN)
		assert.Zero(t, ss.ConsoleDuration, "the federated session's length is the console's")
		calls := srv.Calls()
		require.Len(t, calls, 3)
		assert.Equal(t, []string{"GetCallerIdentity", "GetFederationToken", "getSigninToken"}, []string{calls[0].Action, calls[1].Action, calls[2].Action})
		assert.Equal(t, userKey, calls[1].CallerAccessKeyID, "signed with alice's keys")
		assert.Equal(t, calls[1].IssuedAccessKeyID, calls[2].CallerAccessKeyID)
		assert.Equal(t, ss.AccessKeyID, calls[1].IssuedAccessKeyID)

		srv.ResetCalls()
		login(t, "source", "--console-duration", "20h")
		assert.Equal(t, 20*3600, srv.Calls(ststest.Call{Action: "GetFederationToken"})[0].DurationSeconds)
	})
	t.Run("the URL signs in", func(t *testing.T) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(login(t, "admin"))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, "https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1", resp.Header.Get("Location"))
	})
}

// What login refuses, before it asks the federation endpoint.
func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	h, env := loginHome(t, srv)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a console duration for a chained role", []string{"chained", "--console-duration", "2h"},
			"stschain login: --console-duration: AWS takes no console duration for a role assumed with another session"},
		{"a console duration too long", []string{"admin", "--console-duration", "13h"}, "--console-duration 13h0m0s is out of range"},
		{"a GetSessionToken session", []string{"source", "--session-duration", "1h"}, "stschain login: the console takes no GetSessionToken session"},
		{"an http federation endpoint", []string{"admin", "--federation-url", "http://signin.example.com/federation"},
			`stschain login: --federation-url http://signin.example.com/federation is not an https URL without a query`},
		{"a region without a console", []string{"admin", "--region", "us-iso-east-1"}, "stschain login: region us-iso-east-1 has no public console: give --federation-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, env, "", append([]string{"login", "--stdout", "--cache-dir", h.cache}, tc.args...)...)
			assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stdout)
			assert.Contains(t, failureLine(t, r), tc.want)
		})
	}
	assert.Empty(t, srv.Calls(ststest.Call{Action: "getSigninToken"}))
}

// Without --stdout, login hands the URL to the browser opener (a fake
// xdg-open on PATH, which writes it to a pipe the test reads) and prints
// nothing.
func TestLoginOpensTheBrowser(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	h, env := loginHome(t, srv)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "opened")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "xdg-open"), []byte("#!/bin/sh\nprintf '%s\\n' \"$*\" > '"+fifo+"'\n"), 0o700))
	for i, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			env[i] = "PATH=" + dir + string(os.PathListSeparator) + p
		}
	}
	opened := make(chan string, 1)
	go func() {
		data, err := os.ReadFile(fifo) // blocks until the opener writes
		if err == nil {
			opened <- string(data)
		}
		close(opened)
	}()
	r := runBinary(t, env, "", "login", "admin", "--federation-url", srv.FederationURL(), "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	assert.Empty(t, r.stdout)
	assert.Empty(t, r.stderr)
	select {
	case u := <-opened:
		ss := signinURL(t, srv, strings.TrimSuffix(u, "\n"))
		assert.Equal(t, srv.AssumedRoleARN(roleA, "admin"), ss.ARN)
	case <-time.After(testTime):
		t.Fatal("the browser opener was not run")
	}
}

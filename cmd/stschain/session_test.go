package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/ststest"
)

// recordingProxy forwards requests to srv and records each AssumeRole:
// its form, for the parameters ststest does not record, when it came, and
// the Expiration of the session it got. The Host header is passed on as
// the client sent it, so that SigV4 signatures hold.
type recordingProxy struct {
	URL   string
	mu    sync.Mutex
	calls []proxiedAssumeRole // guarded by mu
}

// proxiedAssumeRole is an AssumeRole that went through a recordingProxy.
type proxiedAssumeRole struct {
	form       url.Values
	sent       time.Time // when the proxy passed it on
	expiration time.Time // of the session STS issued; zero when it failed
}

func newRecordingProxy(t *testing.T, srv *ststest.Server) *recordingProxy {
	t.Helper()
	target, err := url.Parse(srv.URL)
	require.NoError(t, err)
	p := &recordingProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("Action") != "AssumeRole" {
			rp.ServeHTTP(w, r)
			return
		}
		call := proxiedAssumeRole{form: form, sent: time.Now()}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		var answer struct {
			Expiration string `xml:"AssumeRoleResult>Credentials>Expiration"`
		}
		if rec.Code == http.StatusOK && xml.Unmarshal(rec.Body.Bytes(), &answer) == nil {
			call.expiration, _ = time.Parse(time.RFC3339, answer.Expiration)
		}
		p.mu.Lock()
		p.calls = append(p.calls, call)
		p.mu.Unlock()
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(hs.Close)
	p.URL = hs.URL
	return p
}

// assumeRoles returns the AssumeRoles the proxy saw, in the order they
// came.
func (p *recordingProxy) assumeRoles() []proxiedAssumeRole {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// sessionParams returns the session parameters of the recorded AssumeRole
// forms: every key but the ones every call has.
func (p *recordingProxy) sessionParams() []map[string]string {
	var out []map[string]string
	for _, call := range p.assumeRoles() {
		m := map[string]string{}
		for k := range call.form {
			switch k {
			case "Action", "Version", "RoleArn", "RoleSessionName":
			default:
				m[k] = call.form.Get(k)
			}
		}
		m["RoleArn"] = call.form.Get("RoleArn")
		out = append(out, m)
	}
	return out
}

// TestSessionFlags: tags, transitive tag keys and the source identity go
// with the first role, session policies with the last, as STS receives
// them.
func TestSessionFlags(t *testing.T) {
	h := isolateEnv(t)
	srv, _ := newServer(t)
	proxy := newRecordingProxy(t, srv)
	const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	policyFile := filepath.Join(h.dir, "policy.json")
	require.NoError(t, os.WriteFile(policyFile, []byte(policy), 0o600))

	r := runInProcess(t, "credential-process", "--profile", "source", "--role-arn", roleA, "--role-arn", roleB,
		"--tag", "team=platform", "--tag", "cost-center=42", "--tag", "empty=", "--transitive-tag-key", "team",
		"--source-identity", "alice@example.com",
		"--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess", "--policy-arn", "arn:aws:iam::123456789012:policy/extra",
		"--policy-file", policyFile, "--endpoint-url", proxy.URL, "--cache-dir", h.cache)
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	decodeOutput(t, r.stdout)

	assert.Equal(t, []map[string]string{
		{
			"RoleArn":           roleA,
			"Tags.member.1.Key": "cost-center", "Tags.member.1.Value": "42",
			"Tags.member.2.Key": "empty", "Tags.member.2.Value": "",
			"Tags.member.3.Key": "team", "Tags.member.3.Value": "platform",
			"TransitiveTagKeys.member.1": "team",
			"SourceIdentity":             "alice@example.com",
		},
		{
			"RoleArn":                 roleB,
			"PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
			"PolicyArns.member.2.arn": "arn:aws:iam::123456789012:policy/extra",
			"Policy":                  policy,
		},
	}, proxy.sessionParams())
}

func TestSessionFlagErrors(t *testing.T) {
	h := isolateEnv(t)
	bigPolicy := filepath.Join(h.dir, "big.json")
	require.NoError(t, os.WriteFile(bigPolicy, []byte(`{"x":"`+strings.Repeat("a", 70<<10)+`"}`), 0o600))
	badPolicy := filepath.Join(h.dir, "bad.json")
	require.NoError(t, os.WriteFile(badPolicy, []byte(`{"Version":`), 0o600))
	missing := filepath.Join(h.dir, "missing.json")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"tag without =", []string{"--role-arn", roleA, "--tag", "team"}, `invalid value "team" for flag -tag: want KEY=VALUE, such as team=platform`},
		{"tag without key", []string{"--role-arn", roleA, "--tag", "=x"}, "want KEY=VALUE"},
		{"tag twice", []string{"--role-arn", roleA, "--tag", "a=1", "--tag", "a=2"}, `tag a is given twice`},
		{"transitive key not a tag", []string{"--role-arn", roleA, "--tag", "a=1", "--transitive-tag-key", "b"}, "--transitive-tag-key b is not the key of a --tag: give --tag b=VALUE too"},
		{"tag without role", []string{"--tag", "a=1"}, "--tag needs a --role-arn (it is sent with the first role)"},
		{"source identity without role", []string{"--source-identity", "me"}, "--source-identity needs a --role-arn"},
		{"policy arn without role", []string{"--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess"}, "--policy-arn needs a --role-arn (it is sent with the last role)"},
		{"policy file without role", []string{"--policy-file", badPolicy}, "--policy-file needs a --role-arn"},
		{"missing policy file", []string{"--role-arn", roleA, "--policy-file", missing}, "--policy-file: open " + missing + ": no such file or directory"},
		{"policy file too big", []string{"--role-arn", roleA, "--policy-file", bigPolicy}, "is over 64 KiB"},
		{"policy not JSON", []string{"--role-arn", roleA, "--policy-file", badPolicy}, "Policy is not valid JSON"},
		{"bad policy ARN", []string{"--role-arn", roleA, "--policy-arn", "ReadOnlyAccess"}, `PolicyARNs entry "ReadOnlyAccess" is not an IAM policy ARN`},
		{"bad tag key", []string{"--role-arn", roleA, "--tag", "aws:x=1"}, `tag key "aws:x" is invalid`},
		{"bad source identity", []string{"--role-arn", roleA, "--source-identity", "a b"}, `SourceIdentity "a b" is invalid`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runInProcess(t, append([]string{"credential-process", "--no-cache"}, tc.args...)...)
			assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stdout)
			assert.Contains(t, failureLine(t, r), tc.want)
		})
	}
}

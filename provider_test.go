package stschain

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWrappedBySDKCredentialsCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA))
		cache := aws.NewCredentialsCache(p)
		c1, err := cache.Retrieve(context.Background())
		require.NoError(t, err)
		time.Sleep(time.Hour + time.Second)
		c2, err := cache.Retrieve(context.Background())
		require.NoError(t, err)
		assert.NotEqual(t, c1.AccessKeyID, c2.AccessKeyID)
		assert.Equal(t, 2, f.count())
		assert.True(t, aws.IsCredentialsProvider(cache, (*ChainableProvider)(nil)))
	})
}

// stsServer is a minimal STS endpoint that answers AssumeRole and records
// the Authorization header of each request.
func stsServer(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if !strings.Contains(string(body), "Action=AssumeRole") {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIASERVER000001</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/A/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), auths...)
	}
}

func TestNewBuildsTheClientOnce(t *testing.T) {
	t.Run("cfg.BaseEndpoint, default region, master from cfg", func(t *testing.T) {
		srv, auths := stsServer(t)
		cfg := aws.Config{Credentials: staticMaster("alice"), BaseEndpoint: aws.String(srv.URL)}
		p, err := New(cfg, withRole(roleA))
		require.NoError(t, err)
		// Later changes to the caller's config change nothing.
		cfg.Credentials = staticMaster("mallory")
		cfg.BaseEndpoint = aws.String("http://127.0.0.1:1")

		c, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "ASIASERVER000001", c.AccessKeyID)
		require.Len(t, auths(), 1)
		assert.Contains(t, auths()[0], "Credential=AKIAalice/")
		assert.Contains(t, auths()[0], "/"+DefaultRegion+"/sts/")
		_, ok := p.Client().(*sts.Client)
		assert.True(t, ok)
	})
	t.Run("MasterCredentials and STSOptions", func(t *testing.T) {
		srv, auths := stsServer(t)
		cfg := aws.Config{Region: "eu-west-1", Credentials: staticMaster("alice"), BaseEndpoint: aws.String("http://127.0.0.1:1")}
		p, err := New(cfg, withRole(roleA), func(o *Options) {
			o.MasterCredentials = staticMaster("bob")
			o.STSOptions = append(o.STSOptions, func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		})
		require.NoError(t, err)
		_, err = p.Retrieve(context.Background())
		require.NoError(t, err)
		require.Len(t, auths(), 1)
		assert.Contains(t, auths()[0], "Credential=AKIAbob/")
		assert.Contains(t, auths()[0], "/eu-west-1/sts/")
	})
	t.Run("given Client is kept", func(t *testing.T) {
		f := newFakeSTS("A", 0)
		p := newFake(t, f, staticMaster("alice"))
		assert.Same(t, f, p.Client())
	})
}

func TestPlugsInWhereUsersPutProviders(t *testing.T) {
	srv, auths := stsServer(t)
	p, err := New(aws.Config{Credentials: staticMaster("alice"), BaseEndpoint: aws.String(srv.URL)}, withRole(roleA))
	require.NoError(t, err)

	t.Run("aws.Config.Credentials", func(t *testing.T) {
		c, err := aws.Config{Credentials: p}.Credentials.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "ASIASERVER000001", c.AccessKeyID)
	})
	t.Run("config.WithCredentialsProvider", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("AWS_CONFIG_FILE", dir+"/none")
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/none")
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"), config.WithCredentialsProvider(p))
		require.NoError(t, err)
		c, err := cfg.Credentials.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "ASIASERVER000001", c.AccessKeyID)
		assert.True(t, aws.IsCredentialsProvider(cfg.Credentials, (*ChainableProvider)(nil)))
	})
	assert.Len(t, auths(), 1, "both share the provider's one STS call")
}

// config.WithCredentialsProvider(p), the idiom Go users reach for first,
// wraps p in an aws.CredentialsCache. Its callers still never wait for
// STS: with the cache's default ExpiryWindow 0 the provider's timer has the
// next credentials ready at expiry, and with a window the cache asks at the
// provider's own refresh points (AdjustExpiresBy).
func TestWithCredentialsProviderCallersNeverWait(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window time.Duration // of the SDK's cache; 0 is LoadDefaultConfig's default
	}{{"default cache", 0}, {"cache with a window", 10 * time.Minute}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSTS("A", time.Hour)
				f.latency = 200 * time.Millisecond
				p, err := New(aws.Config{}, func(o *Options) {
					o.Client, o.MasterCredentials, o.RoleARN = f, staticMaster("alice"), roleA
				})
				require.NoError(t, err)
				loadOpts := []func(*config.LoadOptions) error{
					config.WithCredentialsProvider(p),
					config.WithRegion("us-east-1"),
					config.WithSharedConfigFiles([]string{}),
					config.WithSharedCredentialsFiles([]string{}),
				}
				if tc.window > 0 {
					loadOpts = append(loadOpts, config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
						o.ExpiryWindow = tc.window
					}))
				}
				ctx := context.Background()
				cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
				require.NoError(t, err)
				_, ok := cfg.Credentials.(*aws.CredentialsCache)
				require.True(t, ok, "LoadDefaultConfig wraps the provider")

				_, err = cfg.Credentials.Retrieve(ctx) // the first fetch waits, as it must
				require.NoError(t, err)
				var waits int
				for range 5 * 60 { // five hours, a call a minute
					time.Sleep(time.Minute)
					start := time.Now()
					c, err := cfg.Credentials.Retrieve(ctx)
					require.NoError(t, err)
					require.True(t, time.Now().Before(c.Expires), "never expired credentials")
					if time.Since(start) > 0 {
						waits++
					}
				}
				assert.Zero(t, waits, "callers that waited for STS")
				// One STS call per session, each refreshed 15 to 8 minutes
				// before it expires (the advisory window of an hour,
				// jittered), the first spread over its session: the first
				// fetch and 6 or 7 refreshes in five hours.
				assert.InDelta(t, 7.5, f.count(), 0.5, "one STS call per hour-long session")
			})
		})
	}
}

// The refresh ahead serves credentials someone took; a provider nobody
// asks stops calling STS.
func TestTimerRefreshesOnlyHandedOutCredentials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSTS("A", time.Hour)
		p := newFake(t, f, staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 0 })
		_, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		time.Sleep(10 * time.Hour)
		assert.Equal(t, 2, f.count(), "one refresh ahead for the credentials handed out, then none")

		p.Invalidate()
		_, err = p.Retrieve(context.Background())
		require.NoError(t, err)
		time.Sleep(time.Hour - advisoryMedium + time.Second)
		assert.Equal(t, 4, f.count(), "the next credentials were taken: refreshed ahead again")
	})
}

func TestAdjustExpiresBy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFake(t, newFakeSTS("A", time.Hour), staticMaster("alice"), withRole(roleA), func(o *Options) { o.PrefetchWindow = 0 })
		c, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		s := p.impl.Load().refresh.state.Load()

		adj, err := p.AdjustExpiresBy(c, -time.Minute)
		require.NoError(t, err)
		assert.Equal(t, s.prefetchAt, adj.Expires, "asked again at the prefetch point")
		time.Sleep(time.Until(s.prefetchAt))
		release := p.impl.Load().link.cfg.client.(*fakeSTS).hang()
		synctest.Wait() // the refresh ahead is under way
		adj, err = p.AdjustExpiresBy(c, -time.Minute)
		require.NoError(t, err)
		assert.Equal(t, s.waitAt, adj.Expires, "then at the expiry window")
		release()

		other := aws.Credentials{AccessKeyID: "OTHER", CanExpire: true, Expires: c.Expires}
		adj, err = p.AdjustExpiresBy(other, -time.Minute)
		require.NoError(t, err)
		assert.Equal(t, c.Expires.Add(-time.Minute), adj.Expires, "credentials it does not hold: the cache's own window")
		never := aws.Credentials{AccessKeyID: "K"}
		adj, err = p.AdjustExpiresBy(never, -time.Minute)
		require.NoError(t, err)
		assert.Equal(t, never, adj)
	})
}

func TestProviderSources(t *testing.T) {
	gst := newFake(t, newFakeSTS("S", 0), staticMaster("alice"))
	role := newFake(t, newFakeSTS("A", 0), gst, withRole(roleA))
	code := aws.CredentialSourceCode // staticMaster's
	assert.Equal(t, []aws.CredentialSource{code, aws.CredentialSourceSTSSessionToken}, gst.ProviderSources())
	assert.Equal(t, []aws.CredentialSource{code, aws.CredentialSourceSTSSessionToken, aws.CredentialSourceSTSAssumeRole}, role.ProviderSources())
	profile := credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"},
		Source: []aws.CredentialSource{aws.CredentialSourceProfile}}
	fromProfile := newFake(t, newFakeSTS("A", 0), profile, withRole(roleA))
	assert.Equal(t, []aws.CredentialSource{aws.CredentialSourceProfile, aws.CredentialSourceSTSAssumeRole}, fromProfile.ProviderSources())
}

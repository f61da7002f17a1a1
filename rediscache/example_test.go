package rediscache_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"regexp"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/rediscache"
	"github.com/stschain/stschain/ststest"
)

// Two processes of a fleet assume the same role through one Redis: the
// second gets the first one's session, without calling STS.
func Example() {
	// An in-memory Redis and a fake STS stand in for the real ones.
	mr, err := miniredis.Run()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mr.Close()
	srv := ststest.NewServer(ststest.Config{
		AccountID: "123456789012",
		Users: []ststest.User{{
			Name: "app", AccessKeyID: "AKIAAPP0000000000000", SecretAccessKey: "app-secret",
		}},
		Roles: []ststest.Role{{
			ARN:   "arn:aws:iam::123456789012:role/deploy",
			Trust: []string{"arn:aws:iam::123456789012:user/app"},
		}},
	})
	defer srv.Close()

	// Every process has the same 32-byte key, from a secret store.
	key := make([]byte, rediscache.KeySize)
	_, _ = rand.Read(key)

	ctx := context.Background()
	var sessions []string
	for range 2 { // two processes
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		defer rdb.Close()
		cache, err := rediscache.New(rdb, key)
		if err != nil {
			fmt.Println(err)
			return
		}
		p, err := stschain.New(srv.AWSConfig("app"), func(o *stschain.Options) {
			o.RoleARN = "arn:aws:iam::123456789012:role/deploy"
			o.Cache = cache
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		creds, err := p.Retrieve(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		sessions = append(sessions, creds.AccessKeyID)
	}
	fmt.Println("same session:", sessions[0] == sessions[1])
	fmt.Println("AssumeRole calls:", len(srv.Calls(ststest.Call{Action: "AssumeRole"})))
	for _, k := range mr.Keys() {
		fmt.Println(regexp.MustCompile(`[0-9a-f]{40}`).ReplaceAllString(k, "<digest>"))
	}
	// Output:
	// same session: true
	// AssumeRole calls: 1
	// stschain:session:<digest>
}

func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr: "127.0.0.1:6379",
		// A miss costs one STS call, a retry the caller's time: report an
		// unreachable Redis at once.
		DialerRetries: 1,
		MaxRetries:    -1,
	})
	defer rdb.Close()
	key := make([]byte, rediscache.KeySize) // in production: read from a secret store
	_, _ = rand.Read(key)
	cache, err := rediscache.New(rdb, key, func(o *rediscache.Options) {
		o.Prefix = "billing:stschain:"
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(regexp.MustCompile(`key ID [0-9a-f]{8}`).ReplaceAllString(cache.String(), "key ID <id>"))
	// Output:
	// rediscache.Cache{prefix "billing:stschain:", key ID <id>, timeout 1s, lock TTL 10s}
}

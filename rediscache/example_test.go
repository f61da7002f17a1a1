package rediscache_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"regexp"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
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
		// A dead Redis is reported at once; a dropped connection is
		// tried again once.
		DialerRetries: 1,
		MaxRetries:    1,
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

// A Redis Cluster: reads may go to replicas (the Load after a Lock reads
// the primary), and a failover is seen within seconds.
func ExampleNew_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		// go-redis reloads the cluster's layout every minute by default:
		// a failover would cost STS calls for up to a minute.
		ClusterStateReloadInterval: 2 * time.Second,
		RouteRandomly:              true,
		DialerRetries:              1,
		MaxRetries:                 1,
	})
	defer rdb.Close()
	key := make([]byte, rediscache.KeySize)
	_, _ = rand.Read(key)
	cache, err := rediscache.New(rdb, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cache != nil)
	// Output:
	// true
}

// A key changes across a fleet in two rolling steps, without a miss:
// first every process reads the new key too, then seals with it.
func ExampleOptions_previousKeys() {
	mr, err := miniredis.Run()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	oldKey, newKey := make([]byte, rediscache.KeySize), make([]byte, rediscache.KeySize)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(newKey)

	// Step 1, on every process: seal with the old key, read both.
	step1, err := rediscache.New(rdb, oldKey, func(o *rediscache.Options) {
		o.PreviousKeys = [][]byte{newKey}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Step 2, once every process runs step 1: seal with the new key.
	step2, err := rediscache.New(rdb, newKey, func(o *rediscache.Options) {
		o.PreviousKeys = [][]byte{oldKey}
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	const cacheKey = "0123456789abcdef0123456789abcdef01234567"
	session := stschain.CacheEntry{Credentials: aws.Credentials{
		AccessKeyID: "ASIAEXAMPLE000000001", SecretAccessKey: "secret", SessionToken: "token",
		CanExpire: true, Expires: time.Now().Add(time.Hour),
	}}
	for _, p := range []struct {
		name        string
		write, read *rediscache.Cache
	}{{"step 1 writes, step 2 reads", step1, step2}, {"step 2 writes, step 1 reads", step2, step1}} {
		if err := p.write.Store(ctx, cacheKey, session); err != nil {
			fmt.Println(err)
			return
		}
		_, ok, err := p.read.Load(ctx, cacheKey)
		fmt.Println(p.name+":", ok, err)
	}
	// Output:
	// step 1 writes, step 2 reads: true <nil>
	// step 2 writes, step 1 reads: true <nil>
}

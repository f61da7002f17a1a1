package sharedcache_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stschain/stschain"
	"github.com/stschain/stschain/sharedcache"
)

// Two processes of a fleet share a store (here memStore, in memory; see
// store_test.go for its LockStore operations): the first takes the lock of
// a key, refreshes and stores the sealed session; the second waits for it
// and opens it.
func Example() {
	store := newMemStore()
	key := make([]byte, sharedcache.KeySize) // the fleet's key, from a secret store
	_, _ = rand.Read(key)

	type process struct {
		sealer *sharedcache.Sealer
		locker *sharedcache.Locker
	}
	newProcess := func() process {
		sealer, err := sharedcache.NewSealer(key)
		if err != nil {
			panic(err)
		}
		locker, err := sharedcache.NewLocker(store, sharedcache.LockOptions{Retry: time.Millisecond})
		if err != nil {
			panic(err)
		}
		return process{sealer, locker}
	}
	first, second := newProcess(), newProcess()
	ctx := context.Background()
	const cacheKey = "0123456789abcdef0123456789abcdef01234567"

	unlock, err := first.locker.Lock(ctx, cacheKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	waited := make(chan stschain.CacheEntry)
	go func() {
		unlock, err := second.locker.Lock(ctx, cacheKey) // waits for the first
		if err != nil {
			fmt.Println(err)
			return
		}
		defer unlock()
		entry, err := second.sealer.Open(sessionName(cacheKey), store.Get(sessionName(cacheKey)))
		if err != nil {
			fmt.Println(err)
			return
		}
		waited <- entry
	}()

	// The first process calls STS (here: made-up credentials) and stores
	// the session, sealed.
	session := stschain.CacheEntry{Credentials: aws.Credentials{
		AccessKeyID: "ASIAEXAMPLE000000001", SecretAccessKey: "secret", SessionToken: "token",
		CanExpire: true, Expires: time.Now().Add(time.Hour),
	}}
	val, err := first.sealer.Seal(sessionName(cacheKey), session)
	if err != nil {
		fmt.Println(err)
		return
	}
	store.Set(sessionName(cacheKey), val)
	unlock()

	got := <-waited
	fmt.Println("the second process got the first one's session:", got.Credentials.AccessKeyID)
	// Output:
	// the second process got the first one's session: ASIAEXAMPLE000000001
}

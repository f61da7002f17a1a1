package stschain

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// cannedSTS is an HTTP client that answers every AssumeRole at once, so a
// benchmark measures what the client side of a call costs.
type cannedSTS struct{}

func (cannedSTS) Do(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	body := fmt.Sprintf(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIACANNED000001</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::210987654321:assumed-role/customer/saas</Arn><AssumedRoleId>AROA:saas</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/xml"}, "Content-Length": {strconv.Itoa(len(body))}},
		Body: io.NopCloser(bytes.NewReader([]byte(body))), ContentLength: int64(len(body)), Request: r}, nil
}

// BenchmarkColdRetrieve compares the first Retrieve of a customer provider
// in a Pool with the SDK's aws.CredentialsCache around
// stscreds.AssumeRoleProvider on a shared client: the client side of one
// AssumeRole, with an HTTP client that answers at once.
func BenchmarkColdRetrieve(b *testing.B) {
	cfg := aws.Config{Region: "us-east-1", HTTPClient: cannedSTS{}, Credentials: staticMaster("hub")}
	role := func(i int) string { return fmt.Sprintf("arn:aws:iam::%012d:role/customer", 200000000000+i) }
	ctx := context.Background()
	b.Run("provider=stschain-pool", func(b *testing.B) {
		pool, err := NewPool(cfg, func(po *PoolOptions) {
			po.Options = []func(*Options){func(o *Options) { o.RoleSessionName = "saas" }}
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p, err := pool.Get(func(o *Options) { o.RoleARN = role(i) })
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Retrieve(ctx); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("provider=sdk", func(b *testing.B) {
		client := sts.NewFromConfig(cfg)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, role(i), func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "saas" }))
			if _, err := p.Retrieve(ctx); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

package main

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stschain/stschain"
)

// The fake account: a user, a hub role it assumes, and N customer roles
// in other accounts that trust the hub and want an external ID each, as a
// SaaS backend sees them.
const (
	account    = "123456789012"
	userName   = "saas"
	userKey    = "AKIABENCHPOOL0000001"
	userSecret = "bench-pool-secret"
	hubRole    = "arn:aws:iam::" + account + ":role/hub"
)

func customerRole(i int) string {
	return fmt.Sprintf("arn:aws:iam::%012d:role/customer", 200000000000+i)
}
func externalID(i int) string { return fmt.Sprintf("customer-%d", i) }

// jsonConfig is the ststest Config as ststest.ParseConfig reads it.
type jsonConfig struct {
	AccountID string
	MaxCalls  int
	Users     []map[string]string
	Roles     []jsonRole
}

type jsonRole struct {
	ARN        string
	Trust      []string
	ExternalID string `json:",omitempty"`
	Lifetime   string `json:",omitempty"`
}

func serverConfig(n int, lifetime time.Duration) jsonConfig {
	cfg := jsonConfig{
		AccountID: account,
		MaxCalls:  1, // nothing here reads them
		Users:     []map[string]string{{"Name": userName, "AccessKeyID": userKey, "SecretAccessKey": userSecret}},
		Roles:     []jsonRole{{ARN: hubRole, Trust: []string{"arn:aws:iam::" + account + ":user/" + userName}}},
	}
	for i := range n {
		cfg.Roles = append(cfg.Roles, jsonRole{ARN: customerRole(i), Trust: []string{hubRole}, ExternalID: externalID(i), Lifetime: lifetime.String()})
	}
	return cfg
}

// awsConfig is the config every variant starts from, as
// config.LoadDefaultConfig would give it: the user's keys, the server's
// endpoint and the SDK's default HTTP client.
func awsConfig(url string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(userKey, userSecret, ""),
		HTTPClient:   awshttp.NewBuildableClient(),
	}
}

// Variants measured side by side.
const (
	variantPool = "stschain Pool"
	variantNew  = "stschain.New each"
	variantSDK  = "SDK CredentialsCache + AssumeRoleProvider"
)

// names are the customer roles and their external IDs, made before the
// providers so that their memory is not counted for them.
type names struct{ roles, exts []string }

func newNames(n int) names {
	nm := names{roles: make([]string, n), exts: make([]string, n)}
	for i := range n {
		nm.roles[i], nm.exts[i] = customerRole(i), externalID(i)
	}
	return nm
}

// providers builds a customer provider of variant for each of nm, all
// assumed from one hub provider of the same kind. keep holds what must stay
// alive beside them (the pool).
func providers(variant string, cfg aws.Config, nm names, poolOpts func(*stschain.PoolOptions)) (out []aws.CredentialsProvider, keep any, err error) {
	n := len(nm.roles)
	out = make([]aws.CredentialsProvider, n)
	switch variant {
	case variantPool:
		hub, err := stschain.New(cfg, func(o *stschain.Options) { o.RoleARN = hubRole; o.RoleSessionName = "hub" })
		if err != nil {
			return nil, nil, err
		}
		pool, err := stschain.NewPool(cfg, func(po *stschain.PoolOptions) {
			po.Options = []func(*stschain.Options){func(o *stschain.Options) {
				o.MasterCredentials = hub
				o.RoleSessionName = "saas"
			}}
			if poolOpts != nil {
				poolOpts(po)
			}
		})
		if err != nil {
			return nil, nil, err
		}
		keep = pool
		for i := range n {
			p, err := pool.Get(func(o *stschain.Options) { o.RoleARN, o.ExternalID = nm.roles[i], nm.exts[i] })
			if err != nil {
				return nil, nil, err
			}
			out[i] = p
		}
	case variantNew:
		hub, err := stschain.New(cfg, func(o *stschain.Options) { o.RoleARN = hubRole; o.RoleSessionName = "hub" })
		if err != nil {
			return nil, nil, err
		}
		for i := range n {
			p, err := stschain.New(cfg, func(o *stschain.Options) {
				o.RoleARN, o.ExternalID, o.RoleSessionName, o.MasterCredentials = nm.roles[i], nm.exts[i], "saas", hub
			})
			if err != nil {
				return nil, nil, err
			}
			out[i] = p
		}
	case variantSDK:
		hub := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), hubRole,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "hub" }))
		shared := cfg.Copy()
		shared.Credentials = hub
		client := sts.NewFromConfig(shared)
		for i := range n {
			ext := nm.exts[i]
			out[i] = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, nm.roles[i], func(o *stscreds.AssumeRoleOptions) {
				o.ExternalID = &ext
				o.RoleSessionName = "saas"
			}))
		}
	default:
		return nil, nil, fmt.Errorf("unknown variant %q", variant)
	}
	return out, keep, nil
}

package main

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
)

// errWarmMiss ends warmCredentials' look in the cache: the top link
// needs its master (the entry is missing, stale or refused), which only
// the whole chain has.
var errWarmMiss = errors.New("the top link's session is not in the cache")

// warmCredentials returns the credentials of the chain's top link from the
// session cache when they are there and fresh, without building the chain:
// no SDK configuration, no STS client, no link below. The AWS CLI runs
// credential_process for every command, so most runs end here. The top
// link is a stschain provider of the options the chain would give it (the
// last --role-arn's from the flags, else the profile's top role_arn from
// awsprofile.TopRole), with the chain's cache and refresh windows, whose
// Retrieve reads and judges the cache as the chain's top link would, and
// fails when it needs the link below. ok is false then, and whenever the
// chain is not one this path knows (no role on top, a GetSessionToken
// link, no cache, --verbose, a flag or variable the chain must check or
// read first), and the caller builds the chain.
func warmCredentials(ctx context.Context, inv *invocation, f *chainFlags) (aws.Credentials, bool) {
	if f.noCache || f.verbose || f.sessionDuration != 0 || f.hasCodeSource() || inv.env(mfaTokenEnv) != "" ||
		!knownPrompt(f.prompt) || !knownPrompt(inv.env(promptEnv)) || f.validate(inv.cmd.name) != nil {
		return aws.Credentials{}, false
	}
	var opts stschain.Options
	if n := len(f.roleARNs); n > 0 {
		policy, err := readPolicyFile(inv.cmd.name, f.policyFile)
		if err != nil {
			return aws.Credentials{}, false
		}
		links := linkOptions(f, policy, false) // no --session-duration here: no GetSessionToken link
		opts = links[len(links)-1]
	} else {
		// The chain asks the keyring for keys the files lack; TopRole
		// never asks it, and takes such keys to be there.
		o, ok, err := awsprofile.TopRole(ctx, f.profile, func(o *awsprofile.Options) {
			o.Keys = func(context.Context, string) (aws.CredentialsProvider, error) { return nil, nil }
		})
		if err != nil || !ok {
			return aws.Credentials{}, false
		}
		opts = o
	}
	dir := f.cacheDir
	if dir == "" {
		d, err := stschain.DefaultCLICacheDir()
		if err != nil {
			return aws.Credentials{}, false
		}
		dir = d
	}
	cache, err := stschain.NewFileCache(dir)
	if err != nil {
		return aws.Credentials{}, false
	}
	top, err := stschain.New(aws.Config{}, func(o *stschain.Options) {
		*o = opts
		o.Cache = cache
		o.PrefetchWindow = prefetchWindow
		o.Client = missClient{}
		o.MasterCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errWarmMiss
		})
		if o.SerialNumber != "" {
			o.TokenCode = func(context.Context, string) (string, error) { return "", errWarmMiss }
		}
	})
	if err != nil {
		return aws.Credentials{}, false
	}
	creds, err := top.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, false
	}
	return creds, true
}

// knownPrompt reports whether name is empty or a prompt of this system:
// one the chain would not refuse before it asks the cache.
func knownPrompt(name string) bool {
	return name == "" || slices.Contains(promptNames(), name)
}

// missClient is the STS client of warmCredentials' top link, which never
// gets as far as calling it: its master fails first.
type missClient struct{}

func (missClient) AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	return nil, errWarmMiss
}

func (missClient) GetSessionToken(context.Context, *sts.GetSessionTokenInput, ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	return nil, errWarmMiss
}

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

// warmCredentials returns the credentials of the chain's top link from the
// session cache when they are there and fresh, without building the chain:
// no SDK configuration, no STS client, no link below. The AWS CLI runs
// credential_process for every command, so most runs end here. The top
// link is made of the options the chain would give it (the last
// --role-arn's from the flags, else the profile's top role_arn from
// awsprofile.TopRole) and read by cachedSession, which fails when the
// link needs the one below. ok is false then, and whenever the chain is
// not one this path knows (no role on top, a GetSessionToken link, no
// cache, --verbose, a flag or variable the chain must check or read
// first), and the caller builds the chain.
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
	dir, err := cacheDir(f)
	if err != nil {
		return aws.Credentials{}, false
	}
	cache, err := stschain.NewFileCache(dir)
	if err != nil {
		return aws.Credentials{}, false
	}
	return cachedSession(ctx, cache, opts)
}

// cachedSession returns the credentials cache holds for the link of o when
// the link would hand them out as they are: a link made anew with o, with
// the chain's refresh windows, looks in the cache under its own key (the
// AWS CLI's) and judges the entry as it does in a chain (a session of its
// role, not about to expire). It calls nothing and writes nothing: its STS
// client, master and MFA codes refuse (so that no keyring is read on a
// miss), and its cache is read-only.
func cachedSession(ctx context.Context, cache stschain.Cache, o stschain.Options) (aws.Credentials, bool) {
	top, err := stschain.New(aws.Config{}, func(n *stschain.Options) {
		*n = o
		n.Cache = readOnlyCache{cache}
		n.PrefetchWindow = prefetchWindow
		n.Client = noCalls{}
		n.MasterCredentials = noCalls{}
		n.TokenCode = func(context.Context, string) (string, error) { return "", errNoCall }
		n.Logger = nil
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

// errNoCall is what cachedSession's stand-ins for STS, the master and the
// MFA codes answer: the link needs the link below (the entry is missing,
// stale or refused), which only the whole chain has.
var errNoCall = errors.New("the link's session is not in the cache")

// noCalls stands in for the STS client and the master credentials of a
// link whose cache cachedSession reads.
type noCalls struct{}

func (noCalls) AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	return nil, errNoCall
}

func (noCalls) GetSessionToken(context.Context, *sts.GetSessionTokenInput, ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error) {
	return nil, errNoCall
}

func (noCalls) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errNoCall
}

// readOnlyCache reads a cache and writes nothing to it.
type readOnlyCache struct{ stschain.Cache }

func (readOnlyCache) Store(context.Context, string, stschain.CacheEntry) error { return nil }

// knownPrompt reports whether name is empty or a prompt of this system:
// one the chain would not refuse before it asks the cache.
func knownPrompt(name string) bool {
	return name == "" || slices.Contains(promptNames(), name)
}

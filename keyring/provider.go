package keyring

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain/internal/redact"
)

// Provider is the [aws.CredentialsProvider] of one profile's keys in a
// keyring. Each Retrieve reads them from the keyring (the file backend
// asks for its passphrase the first time): wrap it in an
// aws.CredentialsCache to read them once.
//
// No fmt verb shows more than its keyring and profile.
type Provider struct {
	keyring *Keyring
	profile string
}

var _ aws.CredentialsProvider = (*Provider)(nil)

// Provider returns the provider of profile's keys in k. It does not look
// whether k holds them: Retrieve does.
func (k *Keyring) Provider(profile string) *Provider {
	return &Provider{keyring: k, profile: profile}
}

// Retrieve returns the profile's keys as long-term credentials: no session
// token, no expiry. Source says which keyring they come from.
func (p *Provider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	keys, err := p.keyring.Get(ctx, p.profile)
	if err != nil {
		return aws.Credentials{}, err
	}
	return aws.Credentials{
		AccessKeyID:     keys.AccessKeyID(),
		SecretAccessKey: keys.SecretAccessKey(),
		Source:          p.keyring.String(),
	}, nil
}

// String names the keyring and the profile.
func (p *Provider) String() string {
	return "keyring.Provider{profile " + strconv.Quote(p.profile) + " in " + p.keyring.String() + "}"
}

// Format prints String for every verb, %q quoting it.
func (p *Provider) Format(f fmt.State, verb rune) { redact.Format(f, verb, p.String()) }

// Lookup returns the provider of profile's keys in the first of rings that
// holds them, and nil when none does; a nil ring is skipped. It reads no
// secret and asks for no passphrase: the provider reads the keys when
// retrieved. An error of a ring (it cannot be listed) ends the lookup.
//
// Bound to its rings it is what awsprofile.Options.Keys takes:
//
//	o.Keys = func(ctx context.Context, profile string) (aws.CredentialsProvider, error) {
//		return keyring.Lookup(ctx, profile, own, awsVault)
//	}
func Lookup(ctx context.Context, profile string, rings ...*Keyring) (aws.CredentialsProvider, error) {
	for _, k := range rings {
		if k == nil {
			continue
		}
		ok, err := k.Has(ctx, profile)
		if err != nil {
			return nil, err
		}
		if ok {
			return k.Provider(profile), nil
		}
	}
	return nil, nil
}

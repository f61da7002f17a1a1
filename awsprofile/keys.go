package awsprofile

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// KeysFunc returns a provider of the long-term keys that profile keeps
// outside the files (an access key ID and a secret access key, without a
// session token), or nil when it keeps none. [Options.Keys] is one, and
// [github.com/stschain/stschain/keyring.Lookup] bound to its keyrings
// makes one.
//
// LoadChain asks it while it follows a chain through the files, for:
//   - a profile with no credentials of its own in the files (no keys, SSO,
//     web identity, login_session or credential_process), where it is the
//     selected profile or a source_profile: its keys are the root
//     (KindKeyring), before the environment's or the instance's;
//   - a profile with role_arn and no source in the files (neither
//     source_profile nor credential_source, or itself as source_profile
//     without static keys): its own keys are the source of its role, as
//     aws-vault uses them.
//
// It should find out whether the keys exist without reading them (no
// passphrase, no unlock prompt): the provider's Retrieve reads them, once
// per process (it sits in an aws.CredentialsCache), when the chain first
// needs them, which a cached session above them may spare. An error fails
// LoadChain.
type KeysFunc func(ctx context.Context, profile string) (aws.CredentialsProvider, error)

package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain"
)

// newFlagChain builds the links the flags put on the profile's chain,
// bottom first, each a stschain.New of its options on the link below (the
// first on cfg's credentials), as stschain.NewChain does; but a link the
// library refuses is reported by its own options' words (the role ARN, the
// tag ...), which name the flag's value, not by a position in a Go call
// the user never made.
func newFlagChain(cfg aws.Config, links []stschain.Options) (*stschain.ChainableProvider, error) {
	var prev *stschain.ChainableProvider
	for _, link := range links {
		p, err := stschain.New(cfg, func(o *stschain.Options) {
			*o = link
			if prev != nil {
				o.MasterCredentials = prev
			}
		})
		if err != nil {
			return nil, err
		}
		prev = p
	}
	return prev, nil
}

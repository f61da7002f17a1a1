package stschain

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// NewChain builds links bottom-up: each link's master is the link below it;
// the first link's master is its own MasterCredentials, else cfg.Credentials.
// It returns the top link.
//
// Every link is a [ChainableProvider] of its own, built by [New] from cfg
// and its Options, and refreshes on its own schedule. Only the first link
// may set MasterCredentials; a link above it that sets one is refused, since
// its master is the link below. Links that set no CodeGuard share the first
// one a link sets (or the process's). An error names the link by its
// position, counted from 1, bottom first, and wraps New's.
func NewChain(cfg aws.Config, links ...Options) (*ChainableProvider, error) {
	if len(links) == 0 {
		return nil, invalidOptions(fmt.Errorf("NewChain needs at least one link"))
	}
	var guard *CodeGuard
	for _, link := range links {
		if link.CodeGuard != nil {
			guard = link.CodeGuard
			break
		}
	}
	var prev *ChainableProvider
	for i, link := range links {
		if i > 0 && link.MasterCredentials != nil {
			return nil, invalidOptions(fmt.Errorf("NewChain link %d (%s) sets MasterCredentials, but its master is link %d below it",
				i+1, quote(linkName(link.RoleARN)), i))
		}
		p, err := New(cfg, func(o *Options) {
			*o = link
			if prev != nil {
				o.MasterCredentials = prev
			}
			if o.CodeGuard == nil {
				o.CodeGuard = guard
			}
		})
		if err != nil {
			return nil, wrapError(err, "NewChain link %d (%s)", i+1, quote(linkName(link.RoleARN)))
		}
		prev = p
	}
	return prev, nil
}

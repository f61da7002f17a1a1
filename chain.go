package stschain

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// NewChain builds links bottom-up: each link's master is the link below it;
// the first link's master is its own MasterCredentials, else cfg.Credentials.
// It returns the top link.
//
// Every link is a [ChainableProvider] of its own, built by [New] from cfg
// and its Options, and refreshes on its own schedule. Only the first link
// may set MasterCredentials; a link above it that sets one is refused, since
// its master is the link below. A link that fails validation is named by its
// position (counted from 1, bottom first) in the error, which wraps New's.
func NewChain(cfg aws.Config, links ...Options) (*ChainableProvider, error) {
	if len(links) == 0 {
		return nil, fmt.Errorf("%w: NewChain needs at least one link", ErrInvalidOptions)
	}
	var prev *ChainableProvider
	for i, link := range links {
		if i > 0 && link.MasterCredentials != nil {
			return nil, fmt.Errorf("%w: NewChain link %d (%s) sets MasterCredentials, but its master is link %d below it",
				ErrInvalidOptions, i+1, linkName(link.RoleARN), i)
		}
		p, err := New(cfg, func(o *Options) {
			*o = link
			if prev != nil {
				o.MasterCredentials = prev
			}
		})
		if err != nil {
			return nil, &chainLinkError{index: i + 1, link: linkName(link.RoleARN), err: err}
		}
		prev = p
	}
	return prev, nil
}

// chainLinkError names the link of a NewChain that New refused.
type chainLinkError struct {
	index int
	link  string
	err   error
}

func (e *chainLinkError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "stschain: ")
	return fmt.Sprintf("stschain: NewChain link %d (%s): %s", e.index, e.link, msg)
}

func (e *chainLinkError) Unwrap() error { return e.err }

func linkName(roleARN string) string {
	if roleARN == "" {
		return GetSessionTokenLink
	}
	return roleARN
}

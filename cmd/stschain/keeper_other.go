//go:build !unix

package main

import "github.com/stschain/stschain/credserver"

// keeper does nothing here: the listening socket cannot be handed to
// another process, and the port is freed when stschain exits.
type keeper struct{}

func startKeeper(*credserver.Server, string) (*keeper, error) { return &keeper{}, nil }

func (*keeper) release() {}

// runKeeper: there is no keeper on this platform.
func runKeeper([]string) int { return exitUsage }

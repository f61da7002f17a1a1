package redistest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Defaults of ClusterOptions.
const (
	defaultMasters     = 3
	defaultNodeTimeout = 1500 * time.Millisecond
	// healthyTimeout bounds a wait for a cluster or a Sentinel setup to be
	// whole.
	healthyTimeout = 60 * time.Second
)

// ClusterOptions configures a [Cluster]. The zero value is 3 masters with
// one replica each.
type ClusterOptions struct {
	// Masters is how many masters share the slots. Optional: zero means 3.
	Masters int
	// Replicas is how many replicas each master has. Optional: zero means
	// 1; negative means none.
	Replicas int
	// NodeTimeout is cluster-node-timeout: how long a master may not
	// answer before its replica takes over. Optional: zero means 1.5 s.
	NodeTimeout time.Duration
	// Args are more configuration directives for every node. Optional.
	Args []string
}

// Cluster is a running Redis Cluster on loopback: redis-server nodes with
// cluster-enabled, joined by redis-cli --cluster create.
type Cluster struct {
	// Nodes are the nodes: the first Masters were masters when the
	// cluster was created, the others replicas. Kill one to fail it.
	Nodes []*Server
}

// NewCluster starts a cluster for t and stops it in t.Cleanup. It skips t
// as New does when redis-server is not available.
func NewCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	Require(t)
	c, err := StartCluster(opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// StartCluster starts the nodes, creates the cluster and waits until every
// slot is served and every replica is in sync. Call Close when done.
func StartCluster(opts ClusterOptions) (*Cluster, error) {
	masters, replicas, timeout := opts.Masters, opts.Replicas, opts.NodeTimeout
	if masters == 0 {
		masters = defaultMasters
	}
	switch {
	case replicas == 0:
		replicas = 1
	case replicas < 0:
		replicas = 0
	}
	if timeout == 0 {
		timeout = defaultNodeTimeout
	}
	c := &Cluster{}
	for range masters * (1 + replicas) {
		bus, err := freePort()
		if err != nil {
			c.Close()
			return nil, err
		}
		s, err := Start(Options{Args: append([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(timeout.Milliseconds(), 10),
			"--cluster-port", strconv.Itoa(bus),
		}, opts.Args...)})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthyTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := c.Nodes[0].CLI(ctx, nil, args...); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Addrs returns the nodes' addresses, for a cluster client to start from.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr
	}
	return addrs
}

// Alive reports whether s has not been killed.
func (s *Server) Alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// WaitHealthy waits until every live node says the cluster is whole (all
// slots served: after a master was killed, once its replica took over),
// sees every live node as a master with slots or as a replica, and every
// live replica is in sync with its master.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	if err := waitFor(ctx, func() error { return c.healthy(ctx) }); err != nil {
		return fmt.Errorf("redistest: the cluster is not healthy: %w", err)
	}
	return nil
}

func (c *Cluster) healthy(ctx context.Context) error {
	for _, s := range c.Nodes {
		if !s.Alive() {
			continue
		}
		info, err := s.CLI(ctx, nil, "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if !strings.Contains(string(info), "cluster_state:ok") || !strings.Contains(string(info), "cluster_slots_ok:16384") {
			return fmt.Errorf("%s: %s", s.Addr, strings.Join(strings.Fields(string(info))[:3], " "))
		}
		nodes, err := s.CLI(ctx, nil, "CLUSTER", "NODES")
		if err != nil {
			return err
		}
		for line := range strings.Lines(string(nodes)) {
			// id addr flags master ping pong epoch link slots...
			if f := strings.Fields(line); len(f) == 8 && strings.Contains(f[2], "master") && !strings.Contains(f[2], "fail") {
				return fmt.Errorf("%s sees %s as a master without slots: not joined yet", s.Addr, f[1])
			}
		}
		repl, err := s.CLI(ctx, nil, "INFO", "replication")
		if err != nil {
			return err
		}
		if strings.Contains(string(repl), "role:slave") && !strings.Contains(string(repl), "master_link_status:up") {
			return fmt.Errorf("%s: replica not in sync", s.Addr)
		}
	}
	return nil
}

// Masters returns the live nodes that are masters now, as CLUSTER NODES
// of a live node says.
func (c *Cluster) Masters(ctx context.Context) ([]*Server, error) {
	for _, s := range c.Nodes {
		if !s.Alive() {
			continue
		}
		out, err := s.CLI(ctx, nil, "CLUSTER", "NODES")
		if err != nil {
			return nil, err
		}
		var masters []*Server
		for line := range strings.Lines(string(out)) {
			f := strings.Fields(line)
			if len(f) < 3 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
				continue
			}
			addr, _, _ := strings.Cut(f[1], "@")
			for _, n := range c.Nodes {
				if n.Addr == addr && n.Alive() {
					masters = append(masters, n)
				}
			}
		}
		return masters, nil
	}
	return nil, errors.New("redistest: no node of the cluster is alive")
}

// Close stops every node. Close may be called more than once.
func (c *Cluster) Close() {
	for _, s := range c.Nodes {
		s.Close()
	}
}

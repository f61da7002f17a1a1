package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MasterName is the name the Sentinels of a [Sentinel] monitor the master
// under.
const MasterName = "redistest"

// SentinelOptions configures a [Sentinel]. The zero value is a master, one
// replica and one Sentinel that fails the master over after a second.
type SentinelOptions struct {
	// Replicas is how many replicas the master has. Optional: zero means
	// 1.
	Replicas int
	// Sentinels is how many Sentinels watch it; a majority of them must
	// agree to fail it over. Optional: zero means 1.
	Sentinels int
	// DownAfter is how long the master may not answer before the
	// Sentinels fail it over. Optional: zero means a second.
	DownAfter time.Duration
	// Args are more configuration directives for the master and its
	// replicas. Optional.
	Args []string
}

// Sentinel is a running master, its replicas and the Sentinels that watch
// them, on loopback.
type Sentinel struct {
	// Master is the master as started; Replicas its replicas. After a
	// failover, ask CurrentMaster.
	Master   *Server
	Replicas []*Server
	// Sentinels are the Sentinels; a client starts from their addresses.
	Sentinels []*Server
}

// NewSentinel starts a Sentinel setup for t and stops it in t.Cleanup. It
// skips t as New does when redis-server is not available.
func NewSentinel(t testing.TB, opts SentinelOptions) *Sentinel {
	t.Helper()
	Require(t)
	s, err := StartSentinel(opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartSentinel starts the master, its replicas and the Sentinels, and
// waits until the replicas are in sync and every Sentinel knows them. Call
// Close when done.
func StartSentinel(opts SentinelOptions) (*Sentinel, error) {
	replicas, sentinels, downAfter := opts.Replicas, opts.Sentinels, opts.DownAfter
	if replicas == 0 {
		replicas = 1
	}
	if sentinels == 0 {
		sentinels = 1
	}
	if downAfter == 0 {
		downAfter = time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthyTimeout)
	defer cancel()
	s := &Sentinel{}
	fail := func(err error) (*Sentinel, error) {
		s.Close()
		return nil, err
	}
	master, err := Start(Options{Args: opts.Args})
	if err != nil {
		return fail(err)
	}
	s.Master = master
	for range replicas {
		r, err := Start(Options{Args: append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port)}, opts.Args...)})
		if err != nil {
			return fail(err)
		}
		s.Replicas = append(s.Replicas, r)
		if err := waitInSync(ctx, r); err != nil {
			return fail(err)
		}
	}
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d\n"+
		"sentinel down-after-milliseconds %s %d\n"+
		"sentinel failover-timeout %s %d\n"+
		"sentinel parallel-syncs %s 1\n",
		MasterName, master.Port, sentinels/2+1,
		MasterName, downAfter.Milliseconds(),
		MasterName, max(10*downAfter, 10*time.Second).Milliseconds(),
		MasterName)
	for range sentinels {
		sn, err := Start(Options{sentinel: conf})
		if err != nil {
			return fail(err)
		}
		s.Sentinels = append(s.Sentinels, sn)
	}
	for _, sn := range s.Sentinels {
		if err := waitFor(ctx, func() error {
			out, err := sn.CLI(ctx, nil, "SENTINEL", "REPLICAS", MasterName)
			if err != nil {
				return err
			}
			for _, r := range s.Replicas {
				if !strings.Contains(string(out), strconv.Itoa(r.Port)) {
					return fmt.Errorf("Sentinel %s does not know replica %s yet", sn.Addr, r.Addr)
				}
			}
			return nil
		}); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// waitInSync waits until the replica r is in sync with its master.
func waitInSync(ctx context.Context, r *Server) error {
	return waitFor(ctx, func() error {
		out, err := r.CLI(ctx, nil, "INFO", "replication")
		if err != nil {
			return err
		}
		if !strings.Contains(string(out), "master_link_status:up") {
			return fmt.Errorf("replica %s is not in sync", r.Addr)
		}
		return nil
	})
}

// waitFor calls check every 50 ms until it returns nil or ctx ends.
func waitFor(ctx context.Context, check func() error) error {
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: %w (%v)", err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addrs returns the Sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	addrs := make([]string, len(s.Sentinels))
	for i, sn := range s.Sentinels {
		addrs[i] = sn.Addr
	}
	return addrs
}

// CurrentMaster returns the address of the master, as the first live
// Sentinel says.
func (s *Sentinel) CurrentMaster(ctx context.Context) (string, error) {
	for _, sn := range s.Sentinels {
		if !sn.Alive() {
			continue
		}
		out, err := sn.CLI(ctx, nil, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName)
		if err != nil {
			return "", err
		}
		f := strings.Fields(string(out))
		if len(f) != 2 {
			return "", fmt.Errorf("redistest: SENTINEL GET-MASTER-ADDR-BY-NAME answered %q", out)
		}
		return f[0] + ":" + f[1], nil
	}
	return "", fmt.Errorf("redistest: no Sentinel is alive")
}

// WaitFailover waits until the Sentinels name a master other than old and
// that master answers as one.
func (s *Sentinel) WaitFailover(ctx context.Context, old string) (string, error) {
	var master string
	err := waitFor(ctx, func() error {
		m, err := s.CurrentMaster(ctx)
		if err != nil {
			return err
		}
		if m == old {
			return fmt.Errorf("the master is still %s", old)
		}
		for _, r := range append([]*Server{s.Master}, s.Replicas...) {
			if r.Addr != m {
				continue
			}
			out, err := r.CLI(ctx, nil, "ROLE")
			if err != nil {
				return err
			}
			if !strings.HasPrefix(string(out), "master") {
				return fmt.Errorf("%s is not a master yet", m)
			}
			master = m
			return nil
		}
		return fmt.Errorf("the Sentinels name %s, which is none of the servers", m)
	})
	return master, err
}

// Close stops every server. Close may be called more than once.
func (s *Sentinel) Close() {
	for _, sn := range s.Sentinels {
		sn.Close()
	}
	for _, r := range s.Replicas {
		r.Close()
	}
	if s.Master != nil {
		s.Master.Close()
	}
}

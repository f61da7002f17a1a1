package fleettest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// seq is one provider's refreshes: how[i] is 'S' (called STS) or 'C'
// (took the session from the cache), bringing the session expiring at
// expires[i].
func seq(how string, expires ...int64) []Refresh {
	var out []Refresh
	var last int64
	for i, e := range expires {
		out = append(out, Refresh{STS: how[i] == 'S', Expires: e, Replaced: last})
		last = e
	}
	return out
}

func TestCountRounds(t *testing.T) {
	const role = "arn:aws:iam::222222222222:role/r"
	for _, tc := range []struct {
		name     string
		shared   bool
		hosts    [][]Refresh
		sts      []int
		unplaced int
	}{
		{"shared: one call a round", true, [][]Refresh{
			seq("SCS", 10, 20, 30), seq("CSC", 10, 20, 30), seq("CCC", 10, 20, 30),
		}, []int{1, 1, 1}, 0},
		{"shared: a host whose first fetch took the session of round 1", true, [][]Refresh{
			seq("SSC", 10, 20, 30), seq("CS", 20, 30),
		}, []int{1, 1, 1}, 0},
		{"shared: two hosts replaced the same session with STS", true, [][]Refresh{
			seq("SS", 10, 20), seq("CS", 10, 21), seq("CC", 10, 21),
		}, []int{1, 2}, 0},
		{"shared: two calls in the same second are one session name, two calls", true, [][]Refresh{
			seq("SS", 10, 20), seq("CS", 10, 20),
		}, []int{1, 2}, 0},
		{"shared: a session no host fetched", true, [][]Refresh{
			seq("SC", 10, 25), seq("CC", 10, 25),
		}, []int{1}, 2},
		{"unshared: every host's own sessions, expiring together or not", false, [][]Refresh{
			seq("SSS", 10, 20, 30), seq("SSS", 10, 21, 30), seq("SSS", 11, 20, 31),
		}, []int{3, 3, 3}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hosts := make([]map[string][]Refresh, len(tc.hosts))
			for i, s := range tc.hosts {
				hosts[i] = map[string][]Refresh{role: s}
			}
			got := CountRounds(hosts, tc.shared)
			assert.Equal(t, tc.sts, got.STS[role])
			assert.Equal(t, tc.unplaced, got.Unplaced)
		})
	}
}

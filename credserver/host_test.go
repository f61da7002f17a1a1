package credserver

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAllowedHost: a server on a bridge address takes its own address and
// the loopback names as Host, and no other name or address.
func TestAllowedHost(t *testing.T) {
	s := &Server{addr: netip.MustParseAddr("172.17.0.1")}
	for host, want := range map[string]bool{
		"172.17.0.1:9911":          true,
		"172.17.0.1":               true,
		"[::ffff:172.17.0.1]:9911": true,
		"127.0.0.1:9911":           true,
		"localhost":                true,
		"[::1]:9911":               true,
		"172.17.0.2:9911":          false,
		"host.docker.internal":     false,
		"172.17.0.1.nip.io:9911":   false,
		"attacker.example":         false,
		"":                         false,
	} {
		assert.Equal(t, want, s.allowedHost(host), host)
	}
}

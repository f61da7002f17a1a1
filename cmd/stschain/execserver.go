package main

import (
	"fmt"
	"net/netip"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain/credserver"
)

// containerHosts are the addresses besides loopback ones from which the
// AWS SDKs (aws-sdk-go-v2's config, botocore's ContainerMetadataFetcher)
// fetch container credentials over plain http: ECS's and EKS Pod
// Identity's.
var containerHosts = []netip.Addr{
	netip.AddrFrom4([4]byte{169, 254, 170, 2}),
	netip.AddrFrom4([4]byte{169, 254, 170, 23}),
	netip.MustParseAddr("fd00:ec2::23"),
}

// startServer starts exec --server's credential server of p, on
// --server-addr, with --server-token-file, and the keeper of its port. It
// warns on stderr when the address is one the SDKs refuse. Its errors are
// the command's to report.
func startServer(inv *invocation, f *chainFlags, p aws.CredentialsProvider) (*credserver.Server, *keeper, error) {
	name := inv.cmd.name
	srv, err := credserver.Start(p, func(o *credserver.Options) {
		o.Addr = f.serverAddr
		o.TokenFile = f.serverTokenFile
	})
	if err != nil {
		return nil, nil, &cmdError{cmd: name, err: err}
	}
	kp, err := startKeeper(srv, f.serverTokenFile)
	if err != nil {
		_ = srv.Close()
		return nil, nil, &cmdError{cmd: name, err: err}
	}
	if !sdkAcceptsHTTP(srv.URL()) {
		fmt.Fprintf(inv.stderr, "stschain %s: warning: %s is not an address from which the AWS SDKs and the AWS CLI fetch credentials over plain http (a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23)\n", name, quote(f.serverAddr))
	}
	return srv, kp, nil
}

// sdkAcceptsHTTP reports whether the AWS SDKs fetch container credentials
// from uri, an http URL with an IP address.
func sdkAcceptsHTTP(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, h := range containerHosts {
		if ip == h {
			return true
		}
	}
	return ip.IsLoopback()
}

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// sdkAcceptsHTTP agrees with the SDKs' own checks (aws-sdk-go-v2's
// config.isAllowedHost, botocore's ContainerMetadataFetcher).
func TestSDKAcceptsHTTP(t *testing.T) {
	for uri, want := range map[string]bool{
		"http://127.0.0.1:80/credentials":              true,
		"http://127.0.0.2:80/credentials":              true,
		"http://[::1]:80/credentials":                  true,
		"http://169.254.170.2:80/credentials":          true,
		"http://169.254.170.23:80/credentials":         true,
		"http://[fd00:ec2::23]:80/credentials":         true,
		"http://[::ffff:169.254.170.2]:80/credentials": true,
		"http://172.17.0.1:80/credentials":             false,
		"http://10.0.0.1:80/credentials":               false,
		"http://[fd00:ec2::24]:80/credentials":         false,
		"http://localhost:80/credentials":              false, // not an address: Start never names one
	} {
		assert.Equal(t, want, sdkAcceptsHTTP(uri), uri)
	}
}

package main

// The outage answers every STS request with 503 ServiceUnavailable.
const (
	outageStatus = 503
	outageCode   = "ServiceUnavailable"
)

package clicache

import (
	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// AccountOf returns the account ID of the ARN s, or "" when s is not an ARN
// or its account is not a 12-digit account ID.
func AccountOf(s string) string {
	a, err := arn.Parse(s)
	if err != nil || !isAccountID(a.AccountID) {
		return ""
	}
	return a.AccountID
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

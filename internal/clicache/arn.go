package clicache

import (
	"strings"

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

// assumedRole is what the ARN of an assumed-role session,
// arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION, names.
type assumedRole struct {
	partition, account, role string
}

// parseAssumedRoleARN parses the ARN of an assumed-role session.
func parseAssumedRoleARN(s string) (assumedRole, bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "sts" || !isAccountID(a.AccountID) {
		return assumedRole{}, false
	}
	parts := strings.Split(a.Resource, "/")
	if len(parts) < 3 || parts[0] != "assumed-role" || parts[1] == "" || parts[len(parts)-1] == "" {
		return assumedRole{}, false
	}
	return assumedRole{partition: a.Partition, account: a.AccountID, role: parts[1]}, true
}

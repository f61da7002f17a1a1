package clicache

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
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

// CheckAssumedRoleUser returns an error saying why when user is not a
// session of the role roleARN (arn:PARTITION:iam::ACCOUNT:role/PATH/NAME):
// when user is nil, or its Arn is not the ARN of an assumed-role session, or
// names another partition, another account or another role name. Role
// names are compared case-insensitively, as IAM keeps them unique.
//
// A cache entry is filed under a key that the role ARN is only hashed into,
// so a reader that found one by key calls this before using it: the
// entry's own AssumedRoleUser says whose session it really is.
func CheckAssumedRoleUser(roleARN string, user *types.AssumedRoleUser) error {
	role, err := arn.Parse(roleARN)
	name, isRole := strings.CutPrefix(role.Resource, "role/")
	if err != nil || role.Service != "iam" || !isRole || !isAccountID(role.AccountID) {
		return errors.New("the role ARN is not an IAM role ARN (want arn:PARTITION:iam::ACCOUNT:role/NAME)")
	}
	name = name[strings.LastIndexByte(name, '/')+1:]
	if user == nil {
		return errors.New("the entry has no AssumedRoleUser, which every AssumeRole session has")
	}
	got, ok := parseAssumedRoleARN(aws.ToString(user.Arn))
	switch {
	case !ok:
		return errors.New("the entry's AssumedRoleUser.Arn is not the ARN of an assumed-role session")
	case got.partition != role.Partition:
		// The entry's own partition and role name are not quoted: what a
		// file holds is shown only once it is known to be an account ID.
		return fmt.Errorf("the entry is a session in another partition than the role's, %s", role.Partition)
	case got.account != role.AccountID:
		return fmt.Errorf("the entry is a session of account %s, not of the role's account %s", got.account, role.AccountID)
	case !strings.EqualFold(got.role, name):
		return fmt.Errorf("the entry is a session of another role than %s", name)
	}
	return nil
}

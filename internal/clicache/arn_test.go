package clicache

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
)

func TestAccountOf(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/demo/alice": "123456789012",
		"arn:aws-us-gov:iam::123456789012:role/demo":        "123456789012",
		"arn:aws:s3:::bucket":                               "",
		"arn:aws:iam::12345678901:role/demo":                "",
		"arn:aws:iam::1234567890123:role/demo":              "",
		"arn:aws:iam::12345678901x:role/demo":               "",
		"arn:aws:iam:123456789012":                          "",
		"not an arn":                                        "",
		"":                                                  "",
	} {
		assert.Equal(t, want, AccountOf(in), in)
	}
}

func TestCheckAssumedRoleUser(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/team/Deploy"
	user := func(arn string) *types.AssumedRoleUser {
		return &types.AssumedRoleUser{Arn: aws.String(arn), AssumedRoleId: aws.String("AROAEXAMPLE:s")}
	}
	tests := []struct {
		name    string
		role    string
		user    *types.AssumedRoleUser
		wantErr string // "" for a match
	}{
		{"match, path dropped from the session ARN", role, user("arn:aws:sts::123456789012:assumed-role/Deploy/alice"), ""},
		{"role names compared without case", role, user("arn:aws:sts::123456789012:assumed-role/deploy/alice"), ""},
		{"no AssumedRoleUser", role, nil, "has no AssumedRoleUser"},
		{"no Arn", role, &types.AssumedRoleUser{}, "is not the ARN of an assumed-role session"},
		{"another account", role, user("arn:aws:sts::999999999999:assumed-role/Deploy/alice"), "a session of account 999999999999, not of the role's account 123456789012"},
		{"another role", role, user("arn:aws:sts::123456789012:assumed-role/Admin/alice"), "a session of another role than Deploy"},
		{"another partition", role, user("arn:aws-cn:sts::123456789012:assumed-role/Deploy/alice"), "another partition than the role's, aws"},
		{"a user ARN", role, user("arn:aws:iam::123456789012:user/alice"), "is not the ARN of an assumed-role session"},
		{"role ARN not a role", "arn:aws:iam::123456789012:user/alice", user("arn:aws:sts::123456789012:assumed-role/alice/x"), "not an IAM role ARN"},
		{"role ARN empty", "", user("arn:aws:sts::123456789012:assumed-role/Deploy/alice"), "not an IAM role ARN"},
		{"both without account", "arn:aws:iam:::role/Deploy", user("arn:aws:sts:::assumed-role/Deploy/alice"), "not an IAM role ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAssumedRoleUser(tt.role, tt.user)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

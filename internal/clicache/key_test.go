package clicache

import (
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/pyjson"
)

// The golden keys and JSON below were computed with botocore 1.43.11 (the
// AWS CLI 1.45.11 installed on the development machine), by botocore's own
// function, with this script:
//
//	import json
//	from botocore.credentials import AssumeRoleCredentialFetcher
//	R = 'arn:aws:iam::123456789012:role/demo'
//	for name, extra in cases.items():   # the extra_args of each case below
//	    f = AssumeRoleCredentialFetcher(None, None, R, extra_args=dict(extra))
//	    args = dict(extra); args['RoleArn'] = R
//	    if 'Policy' in args: args['Policy'] = json.loads(args['Policy'])
//	    print(name, f._create_cache_key())
//	    print('   ', json.dumps(args, sort_keys=True))
//
// A case without RoleSessionName in extra_args is botocore generating the
// name (botocore-session-<unix time>), which it leaves out of the key.

const (
	goldenRole  = "arn:aws:iam::123456789012:role/demo"
	goldenMFA   = "arn:aws:iam::123456789012:mfa/alice"
	policySort  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:List*"],"Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":10}}}]}`
	policyNums  = `{"b":[1.0,1e20,0.1,-0.0,1.5e-7,12345678901234567890,-3,2.5E+3,1e16,123456789012345.6,true,false,null,{}, []],"a":"x"}`
	policyEsc   = `{"z":"caf\u00e9 \ud83d\ude00 <>&/ \"q\" \\ \n\t\r\b\f \u0001 \u007f","\u00e9":"` + "\u00fc" + `"}`
	goldenEvery = `{"DurationSeconds": 900, "ExternalId": "e", "Policy": {"Version": "2012-10-17"}, "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, {"arn": "arn:aws:iam::123456789012:policy/p"}], "RoleArn": "arn:aws:iam::123456789012:role/demo", "RoleSessionName": "s", "SerialNumber": "GAHT12345678", "SourceIdentity": "alice", "Tags": [{"Key": "team", "Value": "plat\u00e9form"}, {"Key": "cost", "Value": ""}], "TransitiveTagKeys": ["team", "cost"]}`
)

func TestAssumeRoleKeyGolden(t *testing.T) {
	tests := []struct {
		name      string
		in        *sts.AssumeRoleInput
		nameGiven bool
		wantKey   string
	}{
		{
			name:    "role only, generated name",
			in:      &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole), RoleSessionName: aws.String("stschain-1700000000000000000")},
			wantKey: "5f52c9c583acfd120a607977e4f21fe86b7fa42d",
		},
		{
			name:      "given session name",
			in:        &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole), RoleSessionName: aws.String("alice")},
			nameGiven: true,
			wantKey:   "285e1c799d70dfec357767cc78c19246e5f667e0",
		},
		{
			name: "cli profile",
			in: &sts.AssumeRoleInput{
				RoleArn: aws.String(goldenRole), RoleSessionName: aws.String("alice"),
				ExternalId: aws.String("ext-1"), SerialNumber: aws.String(goldenMFA),
				DurationSeconds: aws.Int32(3600), TokenCode: aws.String("123456"),
			},
			nameGiven: true,
			wantKey:   "ce93167f28cc3462aee10e7acfb8746264153483",
		},
		{
			name: "cli profile generated name",
			in: &sts.AssumeRoleInput{
				RoleArn: aws.String(goldenRole), RoleSessionName: aws.String("generated"),
				ExternalId: aws.String("ext-1"), SerialNumber: aws.String(goldenMFA),
				DurationSeconds: aws.Int32(43200), TokenCode: aws.String("654321"),
			},
			wantKey: "4b4db8effba049fe40acff6c3c15c25cabd7c01c",
		},
		{
			name:    "policy sorted",
			in:      &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole), Policy: aws.String(policySort)},
			wantKey: "9a0bfeefb275e319f468a15906767122ea052443",
		},
		{
			name:    "policy numbers",
			in:      &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole), Policy: aws.String(policyNums)},
			wantKey: "959cda20f25d26940d508fabd75ee3c2274e0664",
		},
		{
			name:    "policy escapes",
			in:      &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole), Policy: aws.String(policyEsc)},
			wantKey: "5e93a26d43a92c9c4bac6a596731dc47cee7c8a2",
		},
		{
			name: "everything",
			in: &sts.AssumeRoleInput{
				RoleArn: aws.String(goldenRole), RoleSessionName: aws.String("s"),
				ExternalId: aws.String("e"), SerialNumber: aws.String("GAHT12345678"),
				DurationSeconds: aws.Int32(900), Policy: aws.String(`{"Version":"2012-10-17"}`),
				PolicyArns: []types.PolicyDescriptorType{
					{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")},
					{Arn: aws.String("arn:aws:iam::123456789012:policy/p")},
				},
				Tags: []types.Tag{
					{Key: aws.String("team"), Value: aws.String("plat\u00e9form")},
					{Key: aws.String("cost"), Value: aws.String("")},
				},
				TransitiveTagKeys: []string{"team", "cost"},
				SourceIdentity:    aws.String("alice"),
				TokenCode:         aws.String("000000"),
			},
			nameGiven: true,
			wantKey:   "8aca54b363714d4e7a7d4d9c19a58ffe569978cf",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AssumeRoleKey(tt.in, tt.nameGiven)
			require.NoError(t, err)
			assert.Equal(t, tt.wantKey, got)
		})
	}
}

// TestPythonJSON checks the serialiser against the json.dumps output
// printed by the script above, so a mismatch shows where it is.
func TestPythonJSON(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		want   string
	}{
		{
			name:   "sorted nested keys",
			policy: policySort,
			want:   `{"Statement": [{"Action": ["s3:GetObject", "s3:List*"], "Condition": {"NumericLessThan": {"s3:max-keys": 10}}, "Effect": "Allow", "Resource": "*"}], "Version": "2012-10-17"}`,
		},
		{
			name:   "numbers",
			policy: policyNums,
			want:   `{"a": "x", "b": [1.0, 1e+20, 0.1, -0.0, 1.5e-07, 12345678901234567890, -3, 2500.0, 1e+16, 123456789012345.6, true, false, null, {}, []]}`,
		},
		{
			name:   "escapes",
			policy: policyEsc,
			want:   `{"z": "caf\u00e9 \ud83d\ude00 <>&/ \"q\" \\ \n\t\r\b\f \u0001 \u007f", "\u00e9": "\u00fc"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := pyjson.Loads(tt.policy)
			require.NoError(t, err)
			got, err := pyjson.Dumps(v, false)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	t.Run("everything", func(t *testing.T) {
		v, err := pyjson.Loads(goldenEvery)
		require.NoError(t, err)
		got, err := pyjson.Dumps(v, false)
		require.NoError(t, err)
		assert.Equal(t, goldenEvery, got)
	})
}

func TestAssumeRoleKeyRules(t *testing.T) {
	base := func() *sts.AssumeRoleInput {
		return &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole), RoleSessionName: aws.String("alice")}
	}
	key := func(t *testing.T, in *sts.AssumeRoleInput, given bool) string {
		t.Helper()
		k, err := AssumeRoleKey(in, given)
		require.NoError(t, err)
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{40}$`), k)
		return k
	}

	t.Run("token code never counts", func(t *testing.T) {
		a := base()
		b := base()
		b.TokenCode = aws.String("123456")
		assert.Equal(t, key(t, a, true), key(t, b, true))
	})
	t.Run("generated session name never counts", func(t *testing.T) {
		a := base()
		b := base()
		b.RoleSessionName = aws.String("other")
		assert.Equal(t, key(t, a, false), key(t, b, false))
		assert.NotEqual(t, key(t, a, true), key(t, b, true))
	})
	t.Run("policy key order does not count", func(t *testing.T) {
		a := base()
		a.Policy = aws.String(`{"a":1,"b":{"c":2,"d":3}}`)
		b := base()
		b.Policy = aws.String(` { "b" : { "d":3, "c":2 }, "a":1 } `)
		assert.Equal(t, key(t, a, true), key(t, b, true))
	})
	t.Run("empty lists count as unset", func(t *testing.T) {
		a := base()
		b := base()
		b.PolicyArns = []types.PolicyDescriptorType{}
		b.Tags = []types.Tag{}
		b.TransitiveTagKeys = []string{}
		assert.Equal(t, key(t, a, true), key(t, b, true))
	})
	t.Run("every argument counts", func(t *testing.T) {
		seen := map[string]string{key(t, base(), true): "base"}
		for name, mod := range map[string]func(*sts.AssumeRoleInput){
			"ExternalId":        func(in *sts.AssumeRoleInput) { in.ExternalId = aws.String("x") },
			"SerialNumber":      func(in *sts.AssumeRoleInput) { in.SerialNumber = aws.String(goldenMFA) },
			"DurationSeconds":   func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(900) },
			"Policy":            func(in *sts.AssumeRoleInput) { in.Policy = aws.String(`{}`) },
			"PolicyArns":        func(in *sts.AssumeRoleInput) { in.PolicyArns = []types.PolicyDescriptorType{{Arn: aws.String("a")}} },
			"Tags":              func(in *sts.AssumeRoleInput) { in.Tags = []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}} },
			"TransitiveTagKeys": func(in *sts.AssumeRoleInput) { in.TransitiveTagKeys = []string{"k"} },
			"SourceIdentity":    func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String("s") },
			"ProvidedContexts": func(in *sts.AssumeRoleInput) {
				in.ProvidedContexts = []types.ProvidedContext{{ProviderArn: aws.String("p"), ContextAssertion: aws.String("c")}}
			},
		} {
			in := base()
			mod(in)
			k := key(t, in, true)
			prev, dup := seen[k]
			assert.False(t, dup, "%s gives the same key as %s", name, prev)
			seen[k] = name
		}
	})
}

func TestAssumeRoleKeyErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      *sts.AssumeRoleInput
		given   bool
		wantErr string
	}{
		{"nil input", nil, false, "no RoleArn"},
		{"no role", &sts.AssumeRoleInput{}, false, "no RoleArn"},
		{"given but nil name", &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole)}, true, "RoleSessionName"},
		{"bad policy", &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole), Policy: aws.String(`{"a":`)}, false, "Policy is not valid JSON"},
		{"trailing data", &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole), Policy: aws.String(`{} {}`)}, false, "Policy is not valid JSON"},
		{"NaN literal", &sts.AssumeRoleInput{RoleArn: aws.String(goldenRole), Policy: aws.String(`[NaN]`)}, false, "Policy is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AssumeRoleKey(tt.in, tt.given)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "stschain", "the caller adds the prefix")
		})
	}
}

func TestSessionTokenKey(t *testing.T) {
	key := func(t *testing.T, in *sts.GetSessionTokenInput, akid string) string {
		t.Helper()
		k, err := SessionTokenKey(in, akid)
		require.NoError(t, err)
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{40}$`), k)
		assert.NotContains(t, k, akid)
		return k
	}
	const akid = "AKIAIOSFODNN7EXAMPLE"
	base := &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(3600), SerialNumber: aws.String(goldenMFA)}

	t.Run("stable, token code ignored", func(t *testing.T) {
		withCode := *base
		withCode.TokenCode = aws.String("123456")
		assert.Equal(t, key(t, base, akid), key(t, &withCode, akid))
		// Golden: sha1 of {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "DurationSeconds": 3600,
		// "SerialNumber": "arn:aws:iam::123456789012:mfa/alice", "stschain:GetSessionToken": 1}.
		assert.Equal(t, "ed3c06c3e63e549894572c4480d9add3e3fcd862", key(t, base, akid))
	})
	t.Run("everything counts", func(t *testing.T) {
		keys := map[string]bool{
			key(t, base, akid):                        true,
			key(t, base, "AKIAOTHERUSEREXAMPLE"):      true,
			key(t, &sts.GetSessionTokenInput{}, akid): true,
			key(t, nil, akid):                         true,
			key(t, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(3600)}, akid):    true,
			key(t, &sts.GetSessionTokenInput{SerialNumber: aws.String(goldenMFA)}, akid): true,
		}
		assert.Len(t, keys, 5) // nil input and empty input are the same request
	})
	t.Run("distinct from assume-role keys", func(t *testing.T) {
		ar, err := AssumeRoleKey(&sts.AssumeRoleInput{RoleArn: aws.String(akid)}, false)
		require.NoError(t, err)
		assert.NotEqual(t, ar, key(t, &sts.GetSessionTokenInput{}, akid))
	})
	t.Run("needs the access key", func(t *testing.T) {
		_, err := SessionTokenKey(base, "")
		require.ErrorContains(t, err, "access key ID")
	})
}

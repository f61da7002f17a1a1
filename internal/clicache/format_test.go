package clicache

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stschain/stschain/internal/credcheck"
)

// cliGoldenFile is a cache entry exactly as botocore 1.43.11 (AWS CLI
// 1.45.11) writes it: AssumeRoleCredentialFetcher with a JSONFileCache, fed
// the AssumeRole response of the STS documentation through a before-send
// hook. Note Expiration: the fraction of the response's
// 2030-07-15T23:28:33.359Z is dropped and the zone is written "UTC".
const cliGoldenFile = `{"Credentials": {"AccessKeyId": "ASIAJEXAMPLEXEG2JICEA", "SecretAccessKey": "9drTJvcXLB89EXAMPLELB8923FB892xMFI", "SessionToken": "AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=", "Expiration": "2030-07-15T23:28:33UTC", "AccountId": "123456789012"}, "AssumedRoleUser": {"AssumedRoleId": "AROA3XFRBF535PLBIFPI4:s3-access-example", "Arn": "arn:aws:sts::123456789012:assumed-role/demo/s3-access-example"}, "PackedPolicySize": 6, "ResponseMetadata": {"RequestId": "c6104cbe-af31-11e0-8154-cbc7ccf896c7", "HTTPStatusCode": 200, "HTTPHeaders": {"x-amzn-requestid": "c6104cbe-af31-11e0-8154-cbc7ccf896c7", "content-type": "text/xml", "content-length": "1161", "date": "Mon, 15 Jul 2030 22:28:33 GMT"}, "RetryAttempts": 0}}`

// The secrets of the test files: no error may contain them.
const (
	testSecret = "SECRETsecretSECRETsecret"
	testToken  = "TOKENtokenTOKENtokenTOKEN"
)

const testARN = "arn:aws:sts::123456789012:assumed-role/demo/alice"

func TestDecodeGoldenCLIFile(t *testing.T) {
	creds, user, err := Decode([]byte(cliGoldenFile))
	require.NoError(t, err)
	assert.Equal(t, aws.Credentials{
		AccessKeyID:     "ASIAJEXAMPLEXEG2JICEA",
		SecretAccessKey: "9drTJvcXLB89EXAMPLELB8923FB892xMFI",
		SessionToken:    "AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=",
		CanExpire:       true,
		Expires:         time.Date(2030, 7, 15, 23, 28, 33, 0, time.UTC),
		AccountID:       "123456789012",
	}, creds)
	assert.Equal(t, &types.AssumedRoleUser{
		AssumedRoleId: aws.String("AROA3XFRBF535PLBIFPI4:s3-access-example"),
		Arn:           aws.String("arn:aws:sts::123456789012:assumed-role/demo/s3-access-example"),
	}, user)
}

func TestDecodeExpirationForms(t *testing.T) {
	utc := time.Date(2030, 7, 15, 23, 28, 33, 0, time.UTC)
	frac := utc.Add(359 * time.Millisecond)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2030-07-15T23:28:33UTC", utc},
		{"2030-07-15T23:28:33.359UTC", frac},
		{"2030-07-15T23:28:33Z", utc},
		{"2030-07-15T23:28:33.359Z", frac},
		{"2030-07-15T23:28:33.359000Z", frac},
		{"2030-07-15T23:28:33+00:00", utc},
		{"2030-07-15T23:28:33.359+00:00", frac},
		{"2030-07-16T01:28:33+02:00", utc},
		{"2030-07-15T18:28:33.359-05:00", frac},
		{"2030-07-15T23:28:33+0000", utc},
		{"2030-07-15T23:28:33 UTC", utc},
		{"2030-07-15 23:28:33+00:00", utc},
		{"2030-07-15 23:28:33.359+00:00", frac},
		{"2030-07-15 23:28:33UTC", utc},
		{" 2030-07-15T23:28:33Z ", utc},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			creds, user, err := Decode(fmt.Appendf(nil, `{"Credentials": {"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": "S", "SessionToken": "T", "Expiration": %q}}`, tt.in))
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(creds.Expires), "got %v, want %v", creds.Expires, tt.want)
			assert.True(t, creds.CanExpire)
			assert.Nil(t, user)
		})
	}
}

// entryJSON is a cache file with testSecret and testToken, changed by edit.
func entryJSON(edit func(cr, top map[string]any)) []byte {
	cr := map[string]any{"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": testSecret, "SessionToken": testToken,
		"Expiration": "2030-07-15T23:28:33UTC", "AccountId": "123456789012"}
	top := map[string]any{"Credentials": cr, "AssumedRoleUser": map[string]any{"AssumedRoleId": "AROAEXAMPLE:alice", "Arn": testARN}}
	if edit != nil {
		edit(cr, top)
	}
	b, err := json.Marshal(top)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodeErrors(t *testing.T) {
	good := string(entryJSON(nil))
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{"empty file", "", "not valid JSON"},
		{"truncated", good[:len(good)/2], "not valid JSON"},
		{"corrupt", `{"Credentials": {"SecretAccessKey": "` + testSecret + `" x}}`, "not valid JSON (error at byte"},
		{"binary", "\x00\x01" + testSecret, "not valid JSON"},
		{"array", `[1, 2]`, "the file is a JSON array, want an object"},
		{"null", `null`, "the file is a JSON null"},
		{"empty object", `{}`, "no Credentials object"},
		{"null credentials", `{"Credentials": null}`, "no Credentials object"},
		{"credentials not object", `{"Credentials": "` + testSecret + `"}`, "Credentials is a JSON string"},
		{"number key", `{"Credentials": {"AccessKeyId": 5}}`, "Credentials.AccessKeyId is a JSON number, want a string"},
		{"secret not a string", `{"Credentials": {"SecretAccessKey": ["` + testSecret + `"]}}`, "Credentials.SecretAccessKey is a JSON array"},
		{"missing keys", `{"Credentials": {"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": "` + testSecret + `"}}`, "Credentials has no SessionToken, Expiration"},
		{"empty keys", string(entryJSON(func(cr, _ map[string]any) { cr["AccessKeyId"] = ""; cr["SessionToken"] = nil })), "Credentials has no AccessKeyId, SessionToken"},
		{"keys match exactly, as in Python", strings.Replace(good, `"SessionToken"`, `"sessiontoken"`, 1), "Credentials has no SessionToken"},
		{"sso token file", `{"accessToken": "` + testSecret + `", "expiresAt": "2099-01-01T00:00:00Z"}`, "no Credentials object"},
		{"no zone", strings.Replace(good, "23:28:33UTC", "23:28:33", 1), `the Expiration "2030-07-15T23:28:33" is not a date and time with a zone`},
		{"not a date", strings.Replace(good, "2030-07-15T23:28:33UTC", "tomorrow", 1), "Credentials.Expiration is not a date and time"},
		{"year 10000 in UTC", strings.Replace(good, "2030-07-15T23:28:33UTC", "9999-12-31T23:00:00-05:00", 1), "Credentials.Expiration is out of range"},
		{"secret as Expiration", strings.Replace(good, "2030-07-15T23:28:33UTC", testSecret, 1), "Credentials.Expiration is not a date and time"},
		{"control character in a secret", string(entryJSON(func(cr, _ map[string]any) { cr["SecretAccessKey"] = testSecret + "\n" })), "Credentials.SecretAccessKey is not made of the base64 alphabet"},
		{"space in a token", string(entryJSON(func(cr, _ map[string]any) { cr["SessionToken"] = testToken + " x" })), "Credentials.SessionToken is not made of the base64 alphabet"},
		{"non-ASCII key", string(entryJSON(func(cr, _ map[string]any) { cr["AccessKeyId"] = "ASIAÉXAMPLE00001" })), "Credentials.AccessKeyId is not an AWS access key ID"},
		// What a shell would run if an export line printed it.
		{"command in a key", string(entryJSON(func(cr, _ map[string]any) { cr["AccessKeyId"] = "ASIA$(id)XAMPLE1" })), "Credentials.AccessKeyId is not an AWS access key ID (16 to 128 upper-case letters and digits)"},
		{"short key", string(entryJSON(func(cr, _ map[string]any) { cr["AccessKeyId"] = "ASIAEXAMPLE" })), "Credentials.AccessKeyId is not an AWS access key ID"},
		{"semicolon in a secret", string(entryJSON(func(cr, _ map[string]any) { cr["SecretAccessKey"] = testSecret + ";id" })), "Credentials.SecretAccessKey is not made of the base64 alphabet (A-Z, a-z, 0-9, +, / and =)"},
		{"backtick in a token", string(entryJSON(func(cr, _ map[string]any) { cr["SessionToken"] = testToken + "`id`" })), "Credentials.SessionToken is not made of the base64 alphabet"},
		{"short account", string(entryJSON(func(cr, _ map[string]any) { cr["AccountId"] = "1234" })), "AccountId is not a 12-digit account ID"},
		{"account with a host", string(entryJSON(func(cr, top map[string]any) { cr["AccountId"] = "evil.example/"; delete(top, "AssumedRoleUser") })), "AccountId is not a 12-digit account ID"},
		{"accounts differ", string(entryJSON(func(cr, _ map[string]any) { cr["AccountId"] = "999999999999" })), "Credentials.AccountId and AssumedRoleUser.Arn name different accounts"},
		{"user not an object", string(entryJSON(func(_, top map[string]any) { top["AssumedRoleUser"] = testSecret })), "AssumedRoleUser is a JSON string, want an object"},
		{"user without Arn", string(entryJSON(func(_, top map[string]any) { top["AssumedRoleUser"] = map[string]any{} })), "AssumedRoleUser.Arn is not the ARN of an assumed-role session"},
		{"user Arn of a role", string(entryJSON(func(_, top map[string]any) {
			top["AssumedRoleUser"] = map[string]any{"Arn": "arn:aws:iam::123456789012:role/demo"}
		})), "AssumedRoleUser.Arn is not the ARN"},
		{"user Arn without session", string(entryJSON(func(_, top map[string]any) {
			top["AssumedRoleUser"] = map[string]any{"Arn": "arn:aws:sts::123456789012:assumed-role/demo"}
		})), "AssumedRoleUser.Arn is not the ARN"},
		{"user Arn holding a secret", string(entryJSON(func(_, top map[string]any) { top["AssumedRoleUser"] = map[string]any{"Arn": testSecret} })), "AssumedRoleUser.Arn is not the ARN"},
		{"user Id a number", string(entryJSON(func(_, top map[string]any) {
			top["AssumedRoleUser"] = map[string]any{"Arn": testARN, "AssumedRoleId": 7}
		})), "AssumedRoleUser.AssumedRoleId is a JSON number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, user, err := Decode([]byte(tt.content))
			require.Error(t, err)
			assert.Equal(t, aws.Credentials{}, creds)
			assert.Nil(t, user)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), testSecret)
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name        string
		content     []byte
		wantAccount string
		wantUser    bool
	}{
		{"assume role", entryJSON(nil), "123456789012", true},
		{"account from the ARN alone", entryJSON(func(cr, _ map[string]any) { delete(cr, "AccountId") }), "123456789012", true},
		{"null AssumedRoleUser", entryJSON(func(_, top map[string]any) { top["AssumedRoleUser"] = nil }), "123456789012", false},
		{"get session token", entryJSON(func(cr, top map[string]any) { delete(cr, "AccountId"); delete(top, "AssumedRoleUser") }), "", false},
		{"other partition", entryJSON(func(_, top map[string]any) {
			top["AssumedRoleUser"] = map[string]any{"Arn": "arn:aws-cn:sts::123456789012:assumed-role/demo/alice"}
		}), "123456789012", true},
		{"unknown keys ignored", entryJSON(func(cr, top map[string]any) { top["ProviderType"] = "x"; cr["Extra"] = []any{1} }), "123456789012", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, user, err := Decode(tt.content)
			require.NoError(t, err)
			assert.Equal(t, tt.wantAccount, creds.AccountID)
			assert.Equal(t, tt.wantUser, user != nil)
			assert.Equal(t, testSecret, creds.SecretAccessKey)
			assert.Equal(t, testToken, creds.SessionToken)
		})
	}
}

func TestEncode(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "ASIAEXAMPLE00001", SecretAccessKey: testSecret, SessionToken: testToken,
		CanExpire: true, Expires: time.Date(2030, 7, 15, 23, 28, 33, 359e6, time.FixedZone("CEST", 2*3600))}
	user := &types.AssumedRoleUser{Arn: aws.String(testARN), AssumedRoleId: aws.String("AROAEXAMPLE:alice")}

	t.Run("format", func(t *testing.T) {
		data, err := Encode(creds, user)
		require.NoError(t, err)
		// The shape and Expiration format of cliGoldenFile, AccountId taken
		// from the ARN as botocore does.
		assert.JSONEq(t, `{
			"Credentials": {"AccessKeyId": "ASIAEXAMPLE00001", "SecretAccessKey": "`+testSecret+`", "SessionToken": "`+testToken+`",
				"Expiration": "2030-07-15T21:28:33UTC", "AccountId": "123456789012"},
			"AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:alice", "Arn": "`+testARN+`"}
		}`, string(data))
	})
	t.Run("round trip", func(t *testing.T) {
		for _, u := range []*types.AssumedRoleUser{user, nil} {
			data, err := Encode(creds, u)
			require.NoError(t, err)
			got, gotUser, err := Decode(data)
			require.NoError(t, err)
			want := creds
			want.Expires = time.Date(2030, 7, 15, 21, 28, 33, 0, time.UTC) // whole seconds: a second early, never late
			if u != nil {
				want.AccountID = "123456789012"
			}
			assert.Equal(t, want, got)
			assert.Equal(t, u, gotUser)
		}
	})
	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name    string
			edit    func(*aws.Credentials, **types.AssumedRoleUser)
			wantErr string
		}{
			{"incomplete", func(c *aws.Credentials, _ **types.AssumedRoleUser) { c.SessionToken = ""; c.Expires = time.Time{} }, "cannot cache credentials without SessionToken, Expires"},
			{"bad ARN", func(_ *aws.Credentials, u **types.AssumedRoleUser) { *u = &types.AssumedRoleUser{Arn: aws.String("x")} }, "AssumedRoleUser.Arn is not the ARN"},
			{"no ARN", func(_ *aws.Credentials, u **types.AssumedRoleUser) { *u = &types.AssumedRoleUser{} }, "AssumedRoleUser.Arn is not the ARN"},
			{"accounts differ", func(c *aws.Credentials, _ **types.AssumedRoleUser) { c.AccountID = "999999999999" }, "name different accounts"},
			{"newline in secret", func(c *aws.Credentials, _ **types.AssumedRoleUser) { c.SecretAccessKey += "\n" }, "SecretAccessKey is not made of the base64 alphabet"},
			{"year 10000", func(c *aws.Credentials, _ **types.AssumedRoleUser) {
				c.Expires = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			}, "not a date and time"},
			{"year 0", func(c *aws.Credentials, _ **types.AssumedRoleUser) {
				c.Expires = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
			}, "out of range"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, u := creds, user
				tt.edit(&c, &u)
				data, err := Encode(c, u)
				require.Error(t, err)
				assert.Nil(t, data)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), testSecret)
				assert.NotContains(t, err.Error(), testToken)
			})
		}
	})
}

// fuzzSecrets are the secrets of the fuzz seeds. No error may hold any
// 12-byte part of one, so that a secret the fuzzer cut, moved or partly
// changed is still caught.
var fuzzSecrets = []string{testSecret, testToken}

// FuzzDecode feeds Decode arbitrary files. It must never panic; its errors
// must hold no part of a secret; what it accepts has the shapes of
// credcheck.Check; and what it accepts, Encode writes back and
// Decode reads again the same, Expires in whole seconds. The seeds are those
// added here and the corpus in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(cliGoldenFile))
	f.Add(entryJSON(nil))
	f.Add(entryJSON(func(cr, top map[string]any) { delete(cr, "AccountId"); delete(top, "AssumedRoleUser") }))
	f.Add(entryJSON(func(cr, _ map[string]any) { cr["Expiration"] = "2030-07-15T23:28:33.359+02:00" }))
	f.Add(entryJSON(func(cr, _ map[string]any) { cr["AccessKeyId"] = "ASIA$(id)XAMPLE1" }))
	f.Add(entryJSON(func(cr, _ map[string]any) { cr["SessionToken"] = testToken + "\nexport X=1" }))
	f.Fuzz(func(t *testing.T, data []byte) {
		creds, user, err := Decode(data)
		if err != nil {
			msg := err.Error()
			for _, s := range fuzzSecrets {
				for i := 0; i+12 <= len(s); i++ {
					if strings.Contains(msg, s[i:i+12]) {
						t.Fatalf("the error holds part of a secret: %s", msg)
					}
				}
			}
			if creds != (aws.Credentials{}) || user != nil {
				t.Fatalf("an error, and credentials too")
			}
			return
		}
		if err := credcheck.Check(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken); err != nil {
			t.Fatalf("Decode accepted credentials of another shape: %v", err)
		}
		out, err := Encode(creds, user)
		if err != nil {
			t.Fatalf("Decode accepted what Encode refuses: %v", err)
		}
		again, againUser, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode refuses what Encode wrote: %v", err)
		}
		want := creds
		want.Expires = creds.Expires.Truncate(time.Second)
		if !again.Expires.Equal(want.Expires) {
			t.Fatalf("Expires %v came back as %v", want.Expires, again.Expires)
		}
		again.Expires, want.Expires = time.Time{}, time.Time{}
		if again != want {
			t.Fatalf("the credentials changed in a round trip")
		}
		if (user == nil) != (againUser == nil) ||
			user != nil && (aws.ToString(user.Arn) != aws.ToString(againUser.Arn) || aws.ToString(user.AssumedRoleId) != aws.ToString(againUser.AssumedRoleId)) {
			t.Fatalf("the AssumedRoleUser changed in a round trip")
		}
	})
}

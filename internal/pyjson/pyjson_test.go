package pyjson

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected values below are what Python 3.11's json module and repr
// print for the same input.

func TestDumps(t *testing.T) {
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:List*"],"Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":10}}}]}`
	v, err := Loads(policy)
	require.NoError(t, err)
	got, err := Dumps(v, false)
	require.NoError(t, err)
	assert.Equal(t, `{"Statement": [{"Action": ["s3:GetObject", "s3:List*"], "Condition": {"NumericLessThan": {"s3:max-keys": 10}}, "Effect": "Allow", "Resource": "*"}], "Version": "2012-10-17"}`, got)

	got, err = Dumps(v, true)
	require.NoError(t, err)
	assert.Equal(t, `{"Statement":[{"Action":["s3:GetObject","s3:List*"],"Condition":{"NumericLessThan":{"s3:max-keys":10}},"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}`, got)

	// json.dumps({"accountId": ..., "roleName": "dév", ...}, sort_keys=True, separators=(",", ":"))
	got, err = Dumps(map[string]string{"roleName": "dév", "accountId": "123456789012", "sessionName": "a\"b\\c\n\t😀"}, true)
	require.NoError(t, err)
	assert.Equal(t, `{"accountId":"123456789012","roleName":"d\u00e9v","sessionName":"a\"b\\c\n\t\ud83d\ude00"}`, got)

	got, err = Dumps(map[string]any{"n": nil, "t": true, "f": false, "i": 7, "i64": int64(-9), "l": []any{}, "m": map[string]any{}}, false)
	require.NoError(t, err)
	assert.Equal(t, `{"f": false, "i": 7, "i64": -9, "l": [], "m": {}, "n": null, "t": true}`, got)

	_, err = Dumps(map[string]any{"x": 1.5}, false)
	assert.EqualError(t, err, "cannot serialise a float64")
}

func TestLoads(t *testing.T) {
	v, err := Loads(`{"b":[1.0,1e20,0.1,-0.0,1.5e-7,12345678901234567890,-3,2.5E+3,1e16,123456789012345.6,true,false,null,{}, []],"a":"x"}`)
	require.NoError(t, err)
	got, err := Dumps(v, false)
	require.NoError(t, err)
	assert.Equal(t, `{"a": "x", "b": [1.0, 1e+20, 0.1, -0.0, 1.5e-07, 12345678901234567890, -3, 2500.0, 1e+16, 123456789012345.6, true, false, null, {}, []]}`, got)

	for _, bad := range []string{``, `{`, `{"a":1} {}`, `NaN`, `[Infinity]`} {
		_, err := Loads(bad)
		assert.Error(t, err, bad)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		`a"b\c/d+e=`:            `"a\"b\\c/d+e="`,
		"tab\there\nnl\r\b\f":   `"tab\there\nnl\r\b\f"`,
		"\x00\x1f\x7f":          `"\u0000\u001f\u007f"`,
		"é€𝄞":                   `"\u00e9\u20ac\ud834\udd1e"`,
		"<>&'":                  `"<>&'"`,
		"wJalrXUtnFEMI/K7MDENG": `"wJalrXUtnFEMI/K7MDENG"`,
		"":                      `""`,
	} {
		assert.Equal(t, want, Quote(in), "%q", in)
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0.0001":                 "0.0001",
		"0.00001":                "1e-05",
		"1234567890123456.0":     "1234567890123456.0",
		"1e16":                   "1e+16",
		"1e400":                  "Infinity",
		"-1e400":                 "-Infinity",
		"5e-324":                 "5e-324",
		"1.7976931348623157e308": "1.7976931348623157e+308",
		"100.0":                  "100.0",
		"-0.5":                   "-0.5",
		// Integers keep every digit; -0 is Python's int 0.
		"-0":                      "0",
		"0":                       "0",
		"99999999999999999999999": "99999999999999999999999",
		"-7":                      "-7",
	} {
		got, err := number(json.Number(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := number(json.Number("1x"))
	assert.Error(t, err)
}

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPrintList(t *testing.T) {
	now := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	exp := now.Add(75*time.Minute + 30*time.Second)
	soon := now.Add(20 * time.Second)
	var b strings.Builder
	printList(&b, []listRow{
		{Profile: "admin", Root: "keyring", Chain: []string{"admin", "alice"}, RoleARN: roleA, InFiles: true, SessionExpiration: &exp},
		{Profile: "alice", Root: "keyring", Chain: []string{"alice"}, Keyring: "stschain", InFiles: true},
		{Profile: "broken", InFiles: true, Error: "awsprofile: profile \"broken\": a loop"},
		{Profile: "dev", Root: "static", Chain: []string{"dev", "ops"}, InFiles: true, SessionExpiration: &soon},
		{Profile: "old", Keyring: "aws-vault"},
		{Profile: "x\x1b[2J", Root: "static", Chain: []string{"x\x1b[2J", "my keys"}, InFiles: true},
	}, now)
	assert.Equal(t, `PROFILE     ROOT     CHAIN                    KEYRING    SESSION
admin       keyring  admin -> alice           -          2030-01-02T11:15:30Z (in 1h15m)
alice       keyring  alice                    stschain   -
broken      invalid  -                        -          -
dev         static   dev -> ops               -          2030-01-02T10:00:20Z (in under a minute)
old         -        (in no config file)      aws-vault  -
"x\x1b[2J"  static   "x\x1b[2J" -> "my keys"  -          -
`, b.String())
}

func TestUntilText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		59 * time.Second:                 "in under a minute",
		time.Minute:                      "in 1m",
		59*time.Minute + 59*time.Second:  "in 59m",
		time.Hour:                        "in 1h00m",
		36*time.Hour + 5*time.Minute + 1: "in 36h05m",
	} {
		assert.Equal(t, want, untilText(d), "%v", d)
	}
}

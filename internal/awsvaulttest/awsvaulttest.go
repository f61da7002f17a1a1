// Package awsvaulttest writes keys into aws-vault's file keyring as
// aws-vault writes them, for the tests of the programs that read them.
package awsvaulttest

import (
	"encoding/json"

	kr "github.com/99designs/keyring"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// WriteFileKeyring stores each profile's keys in aws-vault's file keyring
// in dir, encrypted with passphrase: with aws-vault's own library, its
// settings (cli/global.go's keyringConfigDefaults) and its item (a JSON
// aws.Credentials, vault/credentialkeyring.go's Set). others are more
// items of aws-vault's that hold no profile's keys (its sessions, its SSO
// tokens), written with an empty JSON object.
func WriteFileKeyring(dir, passphrase string, profiles map[string]aws.Credentials, others ...string) error {
	ring, err := kr.Open(kr.Config{
		AllowedBackends:          []kr.BackendType{kr.FileBackend},
		ServiceName:              "aws-vault",
		FileDir:                  dir,
		FilePasswordFunc:         kr.FixedStringPrompt(passphrase),
		LibSecretCollectionName:  "awsvault",
		KWalletAppID:             "aws-vault",
		KWalletFolder:            "aws-vault",
		KeychainTrustApplication: true,
		WinCredPrefix:            "aws-vault",
	})
	if err != nil {
		return err
	}
	for name, creds := range profiles {
		data, err := json.Marshal(creds)
		if err != nil {
			return err
		}
		if err := ring.Set(kr.Item{Key: name, Label: "aws-vault (" + name + ")", Data: data, KeychainNotTrustApplication: true}); err != nil {
			return err
		}
	}
	for _, name := range others {
		if err := ring.Set(kr.Item{Key: name, Data: []byte(`{}`)}); err != nil {
			return err
		}
	}
	return nil
}

package awsprofile

import (
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
)

// environ is the environment as the SDK reads it when it loads a config:
// its loader's EnvConfig, and the two variables its credential providers
// read on their own. The package reads nothing else of the environment,
// and reads it once per load, here.
type environ struct {
	config.EnvConfig
	containerTokenFile string // AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
	loginCacheDir      string // AWS_LOGIN_CACHE_DIRECTORY
}

func readEnviron() (environ, error) {
	ec, err := config.NewEnvConfig()
	if err != nil {
		return environ{}, fmt.Errorf("awsprofile: reading the AWS environment variables: %w", err)
	}
	return environ{
		EnvConfig:          ec,
		containerTokenFile: os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
		loginCacheDir:      os.Getenv("AWS_LOGIN_CACHE_DIRECTORY"),
	}, nil
}

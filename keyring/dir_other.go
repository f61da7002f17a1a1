//go:build !unix

package keyring

import (
	"fmt"
	"io/fs"
	"os"
)

// checkDir refuses a file where the file backend's directory should be.
// Owners and permissions are left to the system's access control lists.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// checkFile refuses an item file that is not a regular file.
func checkFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (mode %s): not using it (remove it)", path, fi.Mode())
	}
	return nil
}

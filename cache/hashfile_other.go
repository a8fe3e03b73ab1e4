//go:build !linux

package cache

import (
	"fmt"
	"os"
)

// HashFile returns the digest and size of the file at path.
func HashFile(path string) (Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return Digest{}, 0, err
	}
	defer f.Close()
	d, n, err := HashReader(f)
	if err != nil {
		return Digest{}, 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return d, n, nil
}

//go:build !linux

package cache

import (
	"fmt"
	"io"
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

// hashOpenFile returns the digest and length of the contents of f, which
// should be size bytes long, without moving its offset: another goroutine
// may be copying from f meanwhile. It hashes on one goroutine, whatever
// the value of workers.
func hashOpenFile(f *os.File, size int64, _ int) (Digest, int64, error) {
	return HashReader(io.NewSectionReader(f, 0, size+1))
}

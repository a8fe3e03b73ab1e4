package cache

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// HashFile returns the digest and size of the file at path.
//
// On Linux it reads through the bare file descriptor. os.Open would also
// try to register the file with the network poller, which costs three
// system calls that fail for regular files. That is as many as the open,
// read and close that hashing a small source file needs.
func HashFile(path string) (Digest, int64, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return Digest{}, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return hashFD(fd, path)
}

// hashFD returns the digest and size of what the open file fd contains from
// its offset on. The path names the file in errors.
func hashFD(fd int, path string) (Digest, int64, error) {
	d, n, err := hashStream(fdReader(fd), func() {
		_ = unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
	})
	if err != nil {
		return Digest{}, 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return d, n, nil
}

// fdReader reads a file descriptor with read(2), retrying on EINTR.
type fdReader int

func (fd fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

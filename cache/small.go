package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// smallFileMax is the largest file PutSmallFile reads whole; larger ones
// go through PutFile.
const smallFileMax = 1 << 20

// tempSeq numbers the temp files PutSmallFile creates in this process.
var tempSeq atomic.Uint64

// PutSmallFile stores the file at path, which was hashed to want, and
// returns its size. It serves the many small source inputs of a build: it
// reads the file whole and writes the blob with plain system calls, about
// half of what PutFile spends on a file of a few hundred bytes. When the
// file no longer hashes to want, it stores nothing and returns an error
// naming both digests.
func (s *Store) PutSmallFile(path string, want Digest) (int64, error) {
	data, ok, err := readSmall(path)
	if err != nil {
		return 0, err
	}
	if !ok {
		d, n, err := s.PutFile(path)
		if err == nil && d != want {
			err = changedError(path, d, want)
		}
		return n, err
	}
	if got := SumBytes(data); got != want {
		return 0, changedError(path, got, want)
	}
	return int64(len(data)), s.writeEntry(s.BlobPath(want), data)
}

// putSmallRead stores the file at path by reading it whole when it is a
// regular file of at most smallFileMax bytes, else through PutFile. It
// returns the digest and size of what it read and stored.
func (s *Store) putSmallRead(path string) (Digest, int64, error) {
	data, ok, err := readSmall(path)
	if err != nil {
		return Digest{}, 0, err
	}
	if !ok {
		return s.PutFile(path)
	}
	d := SumBytes(data)
	if size, ok := s.BlobSize(d); ok && size == int64(len(data)) {
		return d, size, nil
	}
	return d, int64(len(data)), s.writeEntry(s.BlobPath(d), data)
}

// readSmall reads the file at path whole with plain system calls. It
// reports false, reading nothing, when the file is not a regular file of
// at most smallFileMax bytes.
func readSmall(path string) ([]byte, bool, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, false, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Size > smallFileMax || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, false, nil
	}
	// One byte more than the size: a file that grew meanwhile fills it,
	// and is left to the general path.
	data := make([]byte, st.Size+1)
	n, err := readFull(fd, data)
	if err != nil {
		return nil, false, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if n == len(data) {
		return nil, false, nil
	}
	return data[:n], true, nil
}

func changedError(path string, got, want Digest) error {
	return fmt.Errorf("%s changed after it was hashed: it now hashes to %s, not %s", path, got, want)
}

// writeEntry stores data under the store path name, through a temp file
// created read-only, so no chmod is needed, and a rename.
func (s *Store) writeEntry(name string, data []byte) error {
	var tmp string
	var fd int
	for {
		tmp = filepath.Join(s.root, "tmp", "small-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(tempSeq.Add(1), 10))
		var err error
		fd, err = unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o444)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("store: %w", &fs.PathError{Op: "create", Path: tmp, Err: err})
		}
	}
	for rest := data; len(rest) > 0; {
		n, err := unix.Write(fd, rest)
		if err != nil {
			unix.Close(fd)
			_ = os.Remove(tmp)
			return fmt.Errorf("store: %w", &fs.PathError{Op: "write", Path: tmp, Err: err})
		}
		rest = rest[n:]
	}
	if err := unix.Close(fd); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store: %w", &fs.PathError{Op: "close", Path: tmp, Err: err})
	}
	return s.rename(tmp, name)
}

// BlobSize returns the size of the blob named d, loose or packed, and
// false when there is no such blob. It does not verify it.
func (s *Store) BlobSize(d Digest) (int64, bool) {
	if size, ok := s.looseSize(d); ok {
		return size, true
	}
	if b, ok := s.packed(d); ok {
		return b.size, true
	}
	return 0, false
}

// looseSize returns the size of the loose blob named d, and false when
// there is none.
func (s *Store) looseSize(d Digest) (int64, bool) {
	var st unix.Stat_t
	if err := unix.Stat(s.BlobPath(d), &st); err != nil {
		return 0, false
	}
	return st.Size, true
}

func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

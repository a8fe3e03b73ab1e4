package cache

import (
	"fmt"
	"io"
	"os"
	"runtime"

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
//
// A regular file longer than one buffer is hashed by hashRegular on every
// core, and then the file offset stays where the first read left it.
// Anything else is read to its end.
func hashFD(fd int, path string) (Digest, int64, error) {
	d, n, err := hashStream(fdReader(fd), func(first []byte) (Digest, int64, bool, error) {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return Digest{}, 0, false, nil
		}
		end, err := unix.Seek(fd, 0, io.SeekCurrent)
		if err != nil {
			return Digest{}, 0, false, nil
		}
		start := end - int64(len(first))
		if st.Size-start <= treeSegment {
			// Exactly one buffer, or a file that shrank since it was
			// read: reading on finds its end.
			return Digest{}, 0, false, nil
		}
		_ = unix.Fadvise(fd, end, 0, unix.FADV_SEQUENTIAL)
		d, err := hashRegular(fd, start, st.Size-start, first, runtime.GOMAXPROCS(0))
		return d, st.Size - start, true, err
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

// hashOpenFile returns the digest and length of the contents of f, which
// should be size bytes long, on up to workers goroutines, without moving
// its offset: another goroutine may be copying from f meanwhile. A file
// longer than size has its first size bytes hashed, and a length of size
// reported.
func hashOpenFile(f *os.File, size int64, workers int) (Digest, int64, error) {
	if size <= treeSegment {
		return HashReader(io.NewSectionReader(f, 0, size+1))
	}
	d, err := hashRegular(int(f.Fd()), 0, size, nil, workers)
	return d, size, err
}

package cache

import (
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// syncOneByOne is the most entries Sync flushes one by one. Past it, one
// syncfs(2) of the whole file system costs less than an fsync per entry:
// a cold build of 1,000 small stages writes 12,000 entries.
const syncOneByOne = 256

// noteFresh records that the entry at path was renamed into place.
func (s *Store) noteFresh(path string) {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	if s.many {
		return
	}
	if len(s.fresh) == syncOneByOne {
		s.fresh, s.many = nil, true
		return
	}
	s.fresh = append(s.fresh, path)
}

// Sync makes everything written to the store so far durable. A build calls
// it once, before it writes its run record, in place of one fsync per
// entry as it is written. Up to syncOneByOne entries are flushed with an
// fsync(2) each, and their folders with one each, several at a time. More
// take one syncfs(2) of the file system the store lives on, which also
// waits for whatever other programs wrote there: on a machine that is
// writing a large file, that is a wait of seconds. When this process wrote
// no entry since the last Sync it does nothing: a build that only restored
// outputs must not wait for the file system to write them back.
func (s *Store) Sync() error {
	if !s.written.Swap(false) {
		return nil
	}
	s.freshMu.Lock()
	fresh, many := s.fresh, s.many
	s.fresh, s.many = nil, false
	s.freshMu.Unlock()
	if many {
		return s.syncAll()
	}

	var eg errgroup.Group
	eg.SetLimit(8)
	dirs := map[string]bool{}
	for _, p := range fresh {
		dirs[filepath.Dir(p)] = true
		eg.Go(func() error { return fsyncPath(p, unix.O_RDONLY) })
	}
	for d := range dirs {
		eg.Go(func() error { return fsyncPath(d, unix.O_RDONLY|unix.O_DIRECTORY) })
	}
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("sync cache %s: %w", s.root, err)
	}
	return nil
}

// syncAll flushes the file system the store lives on.
func (s *Store) syncAll() error {
	fd, err := unix.Open(s.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sync cache %s: %w", s.root, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("sync cache %s: %w", s.root, err)
	}
	return nil
}

// fsyncPath opens path with flags and flushes it.
func fsyncPath(path string, flags int) error {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return &fs.PathError{Op: "fsync", Path: path, Err: err}
	}
	return nil
}

package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// syncOneByOne is the most entries flushed one by one between two calls
// of Sync. Past it, one syncfs(2) of the whole file system costs less
// than an fsync per entry: a cold build of 1,000 small stages writes
// 12,000 entries.
const syncOneByOne = 256

// syncWorkers is how many entries are flushed at once.
const syncWorkers = 4

// noteFresh records that the entry at path was renamed into place, and
// starts flushing it and its folder in the background while the build
// goes on. Past syncOneByOne entries it stops: Sync then flushes the
// whole file system at once.
func (s *Store) noteFresh(path string) {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	if s.many {
		return
	}
	if s.fresh == syncOneByOne {
		s.many = true
		return
	}
	s.fresh++
	s.flushing.Add(1)
	go func() {
		defer s.flushing.Done()
		s.flushSlots <- struct{}{}
		defer func() { <-s.flushSlots }()
		err := errors.Join(fsyncPath(path, unix.O_RDONLY), fsyncPath(filepath.Dir(path), unix.O_RDONLY|unix.O_DIRECTORY))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.freshMu.Lock()
			if s.flushErr == nil {
				s.flushErr = err
			}
			s.freshMu.Unlock()
		}
	}()
}

// ExpectManyWrites marks the writes to come as likely to pass
// syncOneByOne, as on a first build. The store then flushes none of them
// one by one, since Sync flushes the whole file system at the end.
func (s *Store) ExpectManyWrites() {
	s.freshMu.Lock()
	s.many = true
	s.freshMu.Unlock()
}

// FlushesOneByOne reports whether an entry renamed into place now would be
// flushed on its own in the background.
func (s *Store) FlushesOneByOne() bool {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	return !s.many && s.fresh < syncOneByOne
}

// Sync makes everything written to the store so far durable. A build calls
// it once, before it writes its run record. Up to syncOneByOne entries are
// flushed one by one, each with its folder, as they are written, and Sync
// waits for those flushes to end. More take one syncfs(2) of the file
// system the store lives on, which also waits for whatever other programs
// wrote there: on a machine that is writing a large file, that is a wait
// of seconds. When this process wrote no entry since the last Sync it does
// nothing: a build that only restored outputs must not wait for the file
// system to write them back.
func (s *Store) Sync() error {
	if !s.written.Swap(false) {
		return nil
	}
	s.flushing.Wait()
	s.freshMu.Lock()
	many, err := s.many, s.flushErr
	s.fresh, s.many, s.flushErr = 0, false, nil
	s.freshMu.Unlock()
	if many {
		return s.syncAll()
	}
	if err != nil {
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

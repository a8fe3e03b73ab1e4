package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock is a held lock on a store.
type Lock struct{ f *os.File }

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// ErrBusy is returned by LockExclusive when a build holds the store.
var ErrBusy = errors.New("the cache is in use by a build")

// LockShared takes a shared lock on the store, held by every build so that
// garbage collection, which takes it exclusively, never deletes what a
// build is writing. It waits while a collection runs.
func (s *Store) LockShared() (*Lock, error) {
	return s.lock(unix.LOCK_SH)
}

// LockExclusive takes the store's lock for garbage collection. It fails
// with ErrBusy at once while any build holds the shared lock.
func (s *Store) LockExclusive() (*Lock, error) {
	l, err := s.lock(unix.LOCK_EX | unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, ErrBusy
	}
	return l, err
}

func (s *Store) lock(how int) (*Lock, error) {
	f, err := os.OpenFile(filepath.Join(s.root, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	return &Lock{f: f}, nil
}

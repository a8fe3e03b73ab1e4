package cache

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Sync makes everything written to the store so far durable, with one
// syncfs(2) of the file system the store lives on. A build calls it once,
// before it writes its run record, in place of one fsync per entry. When
// this process wrote no entry since the last Sync it does nothing: a
// build that only restored outputs must not wait for the file system to
// write them back.
func (s *Store) Sync() error {
	if !s.written.Swap(false) {
		return nil
	}
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

package cache

import (
	"os"

	"golang.org/x/sys/unix"
)

// readLease is a read lease (fcntl(2) F_SETLEASE) on an open blob. The
// kernel grants one only while no process has the file open for writing,
// a writable shared mapping included, and breaks it when a process opens
// the file for writing or truncates it. A restore that holds the lease
// from before its copy to after it is sure that nothing wrote the blob
// meanwhile. Stat data alone cannot show that, because a write through a
// page that a shared mapping has already dirtied changes neither the
// modification nor the change time.
type readLease struct {
	f  *os.File
	ok bool
}

// takeReadLease requests a read lease on f, which must be open read-only.
// The kernel grants none when a process has f open for writing, when the
// store's files belong to another user, or on a file system without
// leases. Then ok is false, and the restore hashes the copy it made.
func takeReadLease(f *os.File) readLease {
	return readLease{f: f, ok: setLease(f, unix.F_RDLCK) == nil}
}

// held reports whether the lease was granted and is still unbroken.
func (l readLease) held() bool {
	if !l.ok {
		return false
	}
	t, err := unix.FcntlInt(l.f.Fd(), unix.F_GETLEASE, 0)
	return err == nil && t == unix.F_RDLCK
}

// release gives the lease up, which lets a process that waits to open the
// blob for writing go on.
func (l readLease) release() {
	if l.ok {
		_ = setLease(l.f, unix.F_UNLCK)
	}
}

func setLease(f *os.File, kind int) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, kind)
	return err
}

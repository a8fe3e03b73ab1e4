package cache

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/zeebo/blake3"
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
// The part after the first buffer of a large regular file that is mostly
// not in the page cache is hashed through a mapping (see hashRestMapped),
// and then the file offset stays where the first read left it. Everything
// else is read.
func hashFD(fd int, path string) (Digest, int64, error) {
	d, n, err := hashStream(fdReader(fd), func(h *blake3.Hasher) (int64, bool, error) {
		_ = unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
		return hashRestMapped(fd, h)
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

// mapMinSize is the least that must follow the first buffer of a file for
// hashRestMapped to map it. The mapping costs a goroutine and about ten
// more system calls, which is little beside reading 8 MiB.
// NOTE: this limit is a guess, because cold files of 1 to 9 MiB were not
// timed on both paths.
const mapMinSize = 8 << 20

// mapAhead is how far ahead of the hasher populateAhead maps a file's
// pages. The kernel's readahead, not this distance, keeps the disk busy:
// the distance only keeps the hasher from waiting in page faults. Mapped
// pages count in the resident set until the hasher drops them.
const mapAhead = 4 << 20

// mapDropStep is how much hashed data the hasher leaves mapped before it
// drops it with MADV_DONTNEED, which keeps the resident set flat in the
// file size. The pages stay in the page cache.
const mapDropStep = 2 << 20

// errFileShrank is the error when a mapped file gets shorter while it is
// hashed.
var errFileShrank = errors.New("file shrank while it was read")

// hashRestMapped feeds h the regular file fd from its offset to its end
// through a shared read-only mapping, when most of that part is not in the
// page cache, and reports with done whether it did.
//
// With a cold file, one reader goroutine that waits for read(2) and then
// copies every byte out of the page cache keeps barely ahead of the
// hasher, which then waits. Page faults on a mapping go through the same
// readahead without the copy, as in b3sum. A file that is mostly cached is
// still read, because BLAKE3 runs faster over a buffer the reader has just
// filled than over pages in memory. On mlbbench's 2 GiB file on a 2-core
// AMD EPYC VM, that took about 0.62 s read against 0.71 s mapped.
func hashRestMapped(fd int, h *blake3.Hasher) (n int64, done bool, err error) {
	// Any failure here leaves the rest to read(2), which then reports
	// the file's error if it has one.
	start, err := unix.Seek(fd, 0, io.SeekCurrent)
	if err != nil {
		return 0, false, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, false, nil
	}
	if st.Size-start < mapMinSize || mostlyCached(fd, start, st.Size-start) {
		return 0, false, nil
	}
	return hashFileMapped(fd, start, st.Size, h)
}

// hashFileMapped feeds h the bytes of the regular file fd from offset start
// to size, its size, through a mapping. With done false it could not map
// the file and fed h nothing.
//
// It hashes the file as long as it was when mapped. It returns
// errFileShrank when the file is shorter afterwards, or when a fault
// beyond the new end interrupts the hash, and then the state of h is
// unknown.
func hashFileMapped(fd int, start, size int64, h *blake3.Hasher) (n int64, done bool, err error) {
	if size > math.MaxInt {
		return 0, false, nil
	}
	base := start &^ int64(os.Getpagesize()-1)
	m, err := unix.Mmap(fd, base, int(size-base), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, false, nil
	}
	defer unix.Munmap(m)

	if err := hashMapping(h, m, int(start-base)); err != nil {
		return 0, true, err
	}

	// A file cut short inside its last page faults nowhere, and reads
	// as zeros there.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err == nil && st.Size < size {
		return 0, true, errFileShrank
	}
	return size - start, true, nil
}

// mostlyCached reports whether at least half of the n bytes of fd from off
// on are in the page cache. It reports true when it cannot tell, because
// cachestat(2) needs Linux 6.5, so older kernels keep to read(2).
func mostlyCached(fd int, off, n int64) bool {
	r := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(fd), &r, &st, 0); err != nil {
		return true
	}
	return int64(st.Cache)*int64(os.Getpagesize()) >= n/2
}

// hashMapping feeds h the mapping m from offset from on, one buffer's
// worth at a time, while populateAhead faults in the pages ahead. A fault
// on a page of m beyond the end of a file that shrank becomes
// errFileShrank.
func hashMapping(h *blake3.Hasher, m []byte, from int) (err error) {
	_ = unix.Madvise(m, unix.MADV_SEQUENTIAL)
	var hashed atomic.Int64
	hashed.Store(int64(from))
	wake := make(chan struct{}, 1)
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go populateAhead(m, from, &hashed, wake, stop, stopped)
	// The caller unmaps m on return, so the populating goroutine must
	// have ended by then.
	defer func() {
		close(stop)
		<-stopped
	}()

	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if f, ok := r.(interface{ Addr() uintptr }); ok && inMapping(m, f.Addr()) {
			err = errFileShrank
			return
		}
		panic(r)
	}()

	page := os.Getpagesize()
	dropped := 0
	for off := from; off < len(m); {
		end := min(off+hashBufferSize, len(m))
		_, _ = h.Write(m[off:end])
		off = end
		hashed.Store(int64(off))
		select {
		case wake <- struct{}{}:
		default:
		}

		// Drop what lies a buffer behind, not right behind: a populate
		// call that started before this buffer was hashed may still run
		// there. Pages it maps after the drop stay resident until munmap.
		if behind := (off - hashBufferSize) &^ (page - 1); behind-dropped >= mapDropStep {
			_ = unix.Madvise(m[dropped:behind], unix.MADV_DONTNEED)
			dropped = behind
		}
	}
	return nil
}

// populateAhead faults in m's pages with MADV_POPULATE_READ (Linux 5.14),
// one buffer at a time, from offset from on, up to mapAhead bytes beyond
// what the hasher has hashed. The faults start the kernel's readahead, so
// the disk reads while the hasher hashes, and the hasher finds its pages
// mapped. The goroutine stops at the end of m, at the first error, such as
// EINVAL from an older kernel or EFAULT from a file that shrank, or when
// stop closes, and then closes stopped. A page it fails to map costs only
// time: the hasher faults it in itself.
func populateAhead(m []byte, from int, hashed *atomic.Int64, wake <-chan struct{}, stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	page := os.Getpagesize()
	for off := from; off < len(m); {
		select {
		case <-stop:
			return
		default:
		}
		h := int(hashed.Load())
		if off < h {
			off = h
			continue
		}
		if off >= h+mapAhead {
			select {
			case <-wake:
			case <-stop:
				return
			}
			continue
		}
		end := min(off+hashBufferSize, len(m))
		if unix.Madvise(m[off&^(page-1):end], unix.MADV_POPULATE_READ) != nil {
			return
		}
		off = end
	}
}

// inMapping reports whether addr lies in m.
func inMapping(m []byte, addr uintptr) bool {
	if len(m) == 0 {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
	return addr >= base && addr-base < uintptr(len(m))
}

package cache

import (
	"errors"
	"math"
	"os"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errFileShrank is the error when a file gets shorter while it is hashed.
var errFileShrank = errors.New("file shrank while it was read")

// hashRegular returns the digest of the size bytes of the regular file fd
// from offset start on, which are more than one segment. When first is not
// nil it holds the first segment, already read. It reads with pread(2) or
// a mapping, never moving the file offset, so another goroutine may copy
// from the same descriptor meanwhile.
//
// The segments are hashed on up to workers goroutines. A file mostly in
// the page cache is mapped, which spares copying every byte out of the
// cache. A file mostly on disk is read, each worker reading its own
// segment, so that as many reads are in flight as there are workers.
func hashRegular(fd int, start, size int64, first []byte, workers int) (Digest, error) {
	if first == nil {
		bp := hashBuffers.Get().(*[]byte)
		defer hashBuffers.Put(bp)
		first = (*bp)[:treeSegment]
		if err := preadFull(fd, first, start); err != nil {
			return Digest{}, err
		}
	}
	if mostlyCached(fd, start+treeSegment, size-treeSegment) {
		if m, ok := mapFile(fd, start, size); ok {
			defer m.unmap()
			return hashSegments(first, size, m, workers)
		}
	}
	src := &preadSource{fd: fd, start: start, size: size}
	for range workers {
		bp := hashBuffers.Get().(*[]byte)
		defer hashBuffers.Put(bp)
		src.bufs = append(src.bufs, *bp)
	}
	return hashSegments(first, size, src, workers)
}

// mostlyCached reports whether at least half of the n bytes of fd from off
// on are in the page cache. It reports false when it cannot tell, as
// before Linux 6.5, which has no cachestat(2). Measured on a 2 GiB file,
// reading took a third longer than mapping when the file was cached, and
// mapping took half as long again as reading when it was not.
func mostlyCached(fd int, off, n int64) bool {
	r := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(fd), &r, &st, 0); err != nil {
		return false
	}
	return int64(st.Cache)*int64(os.Getpagesize()) >= n/2
}

// preadSource reads segments with pread(2), each worker into a buffer of
// its own.
type preadSource struct {
	fd    int
	start int64 // file offset of segment 0
	size  int64
	bufs  [][]byte
}

func (p *preadSource) segment(w int, i int64) ([]byte, error) {
	b := p.bufs[w][:min(treeSegment, p.size-i*treeSegment)]
	if err := preadFull(p.fd, b, p.start+i*treeSegment); err != nil {
		return nil, err
	}
	return b, nil
}

func (p *preadSource) hashed(int, int64) {}

func (p *preadSource) guard(f func() error) error { return f() }

// preadFull fills b from offset off of fd. A file that ends first has
// shrunk since its size was read: errFileShrank.
func preadFull(fd int, b []byte, off int64) error {
	for n := 0; n < len(b); {
		m, err := unix.Pread(fd, b[n:], off+int64(n))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case m == 0:
			return errFileShrank
		}
		n += m
	}
	return nil
}

// mappedSource hands out segments of a shared read-only mapping of a file.
type mappedSource struct {
	fd   int
	m    []byte // the mapping, from a page boundary at or before start
	skip int    // bytes of m before start
	end  int64  // file offset where the input ends
}

// mapFile maps the size bytes of fd from start on. With ok false it could
// not, and the caller reads the file instead.
func mapFile(fd int, start, size int64) (*mappedSource, bool) {
	base := start &^ int64(os.Getpagesize()-1)
	if start+size-base > math.MaxInt {
		return nil, false
	}
	m, err := unix.Mmap(fd, base, int(start+size-base), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false
	}
	_ = unix.Madvise(m, unix.MADV_SEQUENTIAL)
	return &mappedSource{fd: fd, m: m, skip: int(start - base), end: start + size}, true
}

func (s *mappedSource) unmap() { _ = unix.Munmap(s.m) }

func (s *mappedSource) segment(_ int, i int64) ([]byte, error) {
	from := s.skip + int(i*treeSegment)
	return s.m[from:min(len(s.m), from+treeSegment)], nil
}

// hashed drops the segment's pages from the mapping, so the resident set
// stays flat in the file size. The pages stay in the page cache. Only the
// whole pages inside the segment go: a page it shares with its neighbour
// stays mapped until the neighbour is done with it too, or until munmap.
func (s *mappedSource) hashed(_ int, i int64) {
	page := os.Getpagesize()
	from := (s.skip + int(i*treeSegment) + page - 1) &^ (page - 1)
	to := min(len(s.m), s.skip+int((i+1)*treeSegment)) &^ (page - 1)
	if from < to {
		_ = unix.Madvise(s.m[from:to], unix.MADV_DONTNEED)
	}
}

// guard runs f with faults turned into panics, and a fault on the mapping
// into errFileShrank: a page beyond the end of a file that was cut short
// while it was hashed cannot be read. Then the mapping is checked against
// the file's size: one cut inside its last page faults nowhere and reads
// as zeros there.
func (s *mappedSource) guard(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if fault, ok := r.(interface{ Addr() uintptr }); ok && inMapping(s.m, fault.Addr()) {
			err = errFileShrank
			return
		}
		panic(r)
	}()
	if err := f(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err == nil && st.Size < s.end {
		return errFileShrank
	}
	return nil
}

// inMapping reports whether addr lies in m.
func inMapping(m []byte, addr uintptr) bool {
	if len(m) == 0 {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
	return addr >= base && addr-base < uintptr(len(m))
}

package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"
)

// TestHashFileBoundaries checks HashFile on a cached and on an evicted
// file, and the mapped path alone from several offsets, against SumBytes.
// The sizes lie around each boundary where the read or the mapped path
// turns: the buffer, the page, the drop step, the read-ahead distances and
// the least size that is mapped.
func TestHashFileBoundaries(t *testing.T) {
	page := os.Getpagesize()
	sizes := []int{
		0, 1, page - 1, page, page + 1,
		hashBufferSize - 1, hashBufferSize, hashBufferSize + 1,
		hashReadAhead*hashBufferSize - 1, hashReadAhead * hashBufferSize, hashReadAhead*hashBufferSize + 1,
		mapDropStep + hashBufferSize - 1, mapDropStep + hashBufferSize, mapDropStep + hashBufferSize + 1,
		mapAhead - 1, mapAhead, mapAhead + 1,
		hashBufferSize + mapMinSize - 1, hashBufferSize + mapMinSize, hashBufferSize + mapMinSize + 1,
		hashBufferSize + mapMinSize + mapAhead + page + 1,
		3*mapAhead + 17,
	}
	dir := t.TempDir()
	for _, size := range sizes {
		data := randomBytes(size, uint64(size))
		want := SumBytes(data)
		path := filepath.Join(dir, fmt.Sprint(size))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}

		t.Run(fmt.Sprintf("%d bytes cached", size), func(t *testing.T) {
			checkHashFile(t, path, want, size)
		})
		t.Run(fmt.Sprintf("%d bytes evicted", size), func(t *testing.T) {
			evictFile(t, path, int64(size))
			checkHashFile(t, path, want, size)
		})
		for _, start := range []int{0, 1, page - 1, page, page + 1, hashBufferSize} {
			if start >= size {
				continue
			}
			t.Run(fmt.Sprintf("%d bytes mapped from %d", size, start), func(t *testing.T) {
				checkHashFileMapped(t, path, data, start)
			})
		}
	}
}

func checkHashFile(t *testing.T, path string, want Digest, size int) {
	t.Helper()
	d, n, err := HashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(size) {
		t.Errorf("size = %d, want %d", n, size)
	}
	if d != want {
		t.Errorf("digest = %s, want %s", d, want)
	}
}

// checkHashFileMapped checks hashFileMapped on the file at path, which
// contains data, from offset start to its end.
func checkHashFileMapped(t *testing.T, path string, data []byte, start int) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	h := blake3.New()
	n, done, err := hashFileMapped(fd, int64(start), int64(len(data)), h)
	if err != nil || !done {
		t.Fatalf("hashFileMapped = %d, done %t, %v; want done without error", n, done, err)
	}
	if n != int64(len(data)-start) {
		t.Errorf("length = %d, want %d", n, len(data)-start)
	}
	var got Digest
	h.Sum(got[:0])
	if want := SumBytes(data[start:]); got != want {
		t.Errorf("digest = %s, want %s", got, want)
	}
}

// TestHashMappingShrunk checks that a fault past the end of a file that
// got shorter after it was mapped is an error, not a crash.
func TestHashMappingShrunk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	size := mapAhead + 3*hashBufferSize
	if err := os.WriteFile(path, randomBytes(size, 5), 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	m, err := unix.Mmap(fd, 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if err := os.Truncate(path, 2*hashBufferSize+100); err != nil {
		t.Fatal(err)
	}

	if err := hashMapping(blake3.New(), m, 0); !errors.Is(err, errFileShrank) {
		t.Errorf("hashMapping error = %v, want %v", err, errFileShrank)
	}
}

// evictFile writes the file at path back and drops its pages from the page
// cache. It skips the test when a page stays, as on tmpfs, or when the
// kernel has no cachestat(2) to tell.
func evictFile(t testing.TB, path string, size int64) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Fdatasync(fd); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	r := unix.CachestatRange{Len: uint64(size)}
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(fd), &r, &st, 0); err != nil {
		t.Skipf("cachestat: %v", err)
	}
	if st.Cache > 0 {
		t.Skipf("%d pages of %d bytes still cached after POSIX_FADV_DONTNEED", st.Cache, size)
	}
}

// BenchmarkHashFileCold hashes a file whose pages are dropped from the
// page cache before every iteration. It measures the disk as much as
// HashFile.
func BenchmarkHashFileCold(b *testing.B) {
	size := 256 << 20
	path := benchWriteFile(b, b.TempDir(), "cold", size)
	b.SetBytes(int64(size))
	for b.Loop() {
		b.StopTimer()
		evictFile(b, path, int64(size))
		b.StartTimer()
		if _, _, err := HashFile(path); err != nil {
			b.Fatal(err)
		}
	}
}

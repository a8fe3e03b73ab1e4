package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHashFileBoundaries checks HashFile on a cached and on an evicted
// file against zeebo/blake3 over the same bytes, for sizes around the read
// buffer, the first segments and a page, so that both the mapped and the
// read path of hashRegular hash segments whole and cut short.
func TestHashFileBoundaries(t *testing.T) {
	page := os.Getpagesize()
	sizes := []int{
		0, 1, page - 1, page, page + 1,
		hashBufferSize - 1, hashBufferSize, hashBufferSize + 1,
		hashBufferSize + page + 1,
		2*treeSegment - 1, 2 * treeSegment, 2*treeSegment + 1,
		5*treeSegment + 3*page + 17,
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

// openTestFile writes data to a new file and opens it for reading. The
// descriptor is closed when the test ends.
func openTestFile(t *testing.T, data []byte) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return path, fd
}

// TestHashRegularSources checks both ways hashRegular gets a file's
// segments, a mapping and pread(2), from offsets on and off a page
// boundary, against zeebo/blake3 over the same bytes.
func TestHashRegularSources(t *testing.T) {
	page := os.Getpagesize()
	data := randomBytes(4*treeSegment+page+3, 11)
	_, fd := openTestFile(t, data)

	for _, start := range []int{0, 1, page - 1, page, page + 1, treeSegment} {
		size := int64(len(data) - start)
		want := SumBytes(data[start:])
		sources := map[string]func() segmentSource{
			"mapped": func() segmentSource {
				m, ok := mapFile(fd, int64(start), size)
				if !ok {
					t.Fatal("mapFile failed")
				}
				t.Cleanup(m.unmap)
				return m
			},
			"read": func() segmentSource {
				return &preadSource{fd: fd, start: int64(start), size: size,
					bufs: [][]byte{make([]byte, treeSegment), make([]byte, treeSegment)}}
			},
		}
		for name, open := range sources {
			t.Run(fmt.Sprintf("%s from %d", name, start), func(t *testing.T) {
				first := data[start : start+treeSegment]
				got, err := hashSegments(first, size, open(), 2)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("digest = %s, want %s", got, want)
				}
			})
		}
		t.Run(fmt.Sprintf("hashRegular from %d", start), func(t *testing.T) {
			got, err := hashRegular(fd, int64(start), size, nil, 2)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("digest = %s, want %s", got, want)
			}
		})
	}
}

// TestHashRegularShrunk checks that a file cut short after its size was
// taken is an error on both paths, not a crash and not a digest: on the
// mapped path a page beyond the new end faults.
func TestHashRegularShrunk(t *testing.T) {
	size := 6 * treeSegment
	for _, name := range []string{"mapped", "read"} {
		t.Run(name, func(t *testing.T) {
			data := randomBytes(size, 5)
			path, fd := openTestFile(t, data)
			var src segmentSource = &preadSource{fd: fd, size: int64(size), bufs: [][]byte{make([]byte, treeSegment)}}
			if name == "mapped" {
				m, ok := mapFile(fd, 0, int64(size))
				if !ok {
					t.Fatal("mapFile failed")
				}
				defer m.unmap()
				src = m
			}
			if err := os.Truncate(path, 2*treeSegment+100); err != nil {
				t.Fatal(err)
			}
			_, err := hashSegments(data[:treeSegment], int64(size), src, 1)
			if !errors.Is(err, errFileShrank) {
				t.Errorf("error = %v, want %v", err, errFileShrank)
			}
		})
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

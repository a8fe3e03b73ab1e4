package cache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/zeebo/blake3"
)

// benchHashSizes are file sizes for the hashing benchmarks: a typical
// source file, one read buffer and a file long enough for the overlapped
// reader to reach its steady state.
var benchHashSizes = []int{4 << 10, hashBufferSize, 64 << 20}

func benchWriteFile(b testing.TB, dir, name string, size int) string {
	b.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, randomBytes(size, uint64(size)), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkBLAKE3 is the single-core rate of zeebo/blake3 over memory in
// 1 MiB writes: the ceiling for HashFile on one large file.
func BenchmarkBLAKE3(b *testing.B) {
	buf := randomBytes(64<<20, 1)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		h := blake3.New()
		for off := 0; off < len(buf); off += hashBufferSize {
			_, _ = h.Write(buf[off : off+hashBufferSize])
		}
		h.Sum(nil)
	}
}

// BenchmarkHashFile hashes one file from the page cache.
func BenchmarkHashFile(b *testing.B) {
	dir := b.TempDir()
	for _, size := range benchHashSizes {
		path := benchWriteFile(b, dir, sizeName(size), size)
		b.Run(sizeName(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, _, err := HashFile(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHashFiles hashes 1,000 files of 4 KiB, the shape of a folder of
// sources, on one goroutine and on one per CPU.
func BenchmarkHashFiles(b *testing.B) {
	dir := b.TempDir()
	var paths []string
	for i := range 1000 {
		paths = append(paths, benchWriteFile(b, dir, fmt.Sprintf("f%04d", i), 4<<10))
	}
	for _, jobs := range []int{1, 0} {
		name := "jobs=1"
		if jobs == 0 {
			name = "jobs=cpus"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(paths)) * 4 << 10)
			for b.Loop() {
				for _, r := range HashFiles(paths, jobs) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
		})
	}
}

// TestHashReaderBoundaries checks the one-shot and the overlapped paths of
// HashReader against SumBytes at the sizes where they meet, and with a
// reader that returns one byte at a time.
func TestHashReaderBoundaries(t *testing.T) {
	sizes := []int{0, 1, hashBufferSize - 1, hashBufferSize, hashBufferSize + 1,
		hashReadAhead * hashBufferSize, hashReadAhead*hashBufferSize + 1, (hashReadAhead+3)*hashBufferSize + 17}
	for _, size := range sizes {
		data := randomBytes(size, uint64(size)+7)
		want := SumBytes(data)
		readers := map[string]io.Reader{
			"plain":    bytes.NewReader(data),
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
		}
		for name, r := range readers {
			if name == "one byte" && size > hashBufferSize+1 {
				continue // correct but slow
			}
			d, n, err := HashReader(r)
			if err != nil {
				t.Fatalf("size %d, %s reader: %v", size, name, err)
			}
			if n != int64(size) {
				t.Errorf("size %d, %s reader: length = %d", size, name, n)
			}
			if d != want {
				t.Errorf("size %d, %s reader: digest = %s, want %s", size, name, d, want)
			}
		}
	}
}

// TestHashReaderError checks that a read error after the first buffer
// reaches the caller.
func TestHashReaderError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := io.MultiReader(bytes.NewReader(randomBytes(3*hashBufferSize, 9)), iotest.ErrReader(boom))
	if _, _, err := HashReader(r); !errors.Is(err, boom) {
		t.Errorf("HashReader error = %v, want %v", err, boom)
	}
}

func TestHashFilesOrderAndErrors(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 50 {
		paths = append(paths, benchWriteFile(t, dir, fmt.Sprintf("f%02d", i), i*1000))
	}
	paths = append(paths, filepath.Join(dir, "missing"))
	results := HashFiles(paths, 3)
	if len(results) != len(paths) {
		t.Fatalf("got %d results for %d paths", len(results), len(paths))
	}
	for i, r := range results[:50] {
		want, _, err := HashFile(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		if r.Path != paths[i] || r.Err != nil || r.Digest != want || r.Size != int64(i*1000) {
			t.Errorf("result %d = %+v, want %s of %d bytes", i, r, want, i*1000)
		}
	}
	if last := results[50]; !errors.Is(last.Err, os.ErrNotExist) {
		t.Errorf("missing file: error = %v, want one wrapping os.ErrNotExist", last.Err)
	}
}

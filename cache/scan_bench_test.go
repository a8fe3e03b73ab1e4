package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchFolder writes files of 4 KiB into folders of 100 under a new
// folder and returns it.
func benchFolder(b *testing.B, files int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "data")
	for i := range files {
		sub := filepath.Join(dir, fmt.Sprintf("d%04d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		benchWriteFile(b, sub, fmt.Sprintf("f%03d.bin", i%100), 4<<10)
	}
	return dir
}

// BenchmarkNoOpScan measures the part of a no-op build that grows with an
// input folder, for a folder of 10,000 files. It loads the index, scans
// the folder with it, and takes the tree's digest.
func BenchmarkNoOpScan(b *testing.B) {
	dir := benchFolder(b, 10000)
	indexPath := filepath.Join(b.TempDir(), "index")
	time.Sleep(racyWindow + 200*time.Millisecond) // so that Save keeps every entry
	ix := LoadIndex(indexPath)
	if _, err := ScanTree(dir, ix); err != nil {
		b.Fatal(err)
	}
	if err := ix.Save(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ix := LoadIndex(indexPath)
		t, err := ScanTree(dir, ix)
		if err != nil {
			b.Fatal(err)
		}
		t.Digest()
		if len(ix.recorded) != 0 {
			b.Fatalf("the scan hashed %d files, want none", len(ix.recorded))
		}
	}
}

// BenchmarkScanTreeFlat scans one folder of 2,000 files of 4 KiB with an
// empty index, as the first build with that folder as an input does.
func BenchmarkScanTreeFlat(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "flat")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 2000 {
		benchWriteFile(b, dir, fmt.Sprintf("f%04d", i), 4<<10)
	}
	b.SetBytes(2000 * 4 << 10)
	for b.Loop() {
		ix := LoadIndex(filepath.Join(b.TempDir(), "index"))
		if _, err := ScanTree(dir, ix); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexSave writes an index of 100,000 entries recorded in this
// process, as a build that hashed a folder of 100,000 files does.
func BenchmarkIndexSave(b *testing.B) {
	fi := oldFileInfo{mtime: time.Now().Add(-time.Hour)}
	ix := LoadIndex(filepath.Join(b.TempDir(), "index"))
	for i := range 100000 {
		ix.Record(fmt.Sprintf("/home/user/project/data/d%04d/f%03d.bin", i/100, i%100), fi, SumBytes([]byte{byte(i), byte(i >> 8)}))
	}
	for b.Loop() {
		ix.dirty = true
		if err := ix.Save(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexLookupLoaded looks up every entry of an index of 100,000
// entries read from its file, in path order, as a scan does.
func BenchmarkIndexLookupLoaded(b *testing.B) {
	fi := oldFileInfo{mtime: time.Now().Add(-time.Hour)}
	indexPath := filepath.Join(b.TempDir(), "index")
	ix := LoadIndex(indexPath)
	var paths []string
	for i := range 100000 {
		p := fmt.Sprintf("/home/user/project/data/d%04d/f%03d.bin", i/100, i%100)
		paths = append(paths, p)
		ix.Record(p, fi, SumBytes([]byte{byte(i), byte(i >> 8)}))
	}
	if err := ix.Save(); err != nil {
		b.Fatal(err)
	}
	ix = LoadIndex(indexPath)
	key := entryFor(fi, Digest{})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := ix.lookup(paths[i%len(paths)], key); !ok {
			b.Fatal("miss")
		}
	}
}

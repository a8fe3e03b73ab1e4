package cache

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// oldFileInfo is the stat data of a 10-byte file last changed at mtime.
type oldFileInfo struct{ mtime time.Time }

func (fi oldFileInfo) Name() string       { return "f" }
func (fi oldFileInfo) Size() int64        { return 10 }
func (fi oldFileInfo) Mode() os.FileMode  { return 0o644 }
func (fi oldFileInfo) ModTime() time.Time { return fi.mtime }
func (fi oldFileInfo) IsDir() bool        { return false }
func (fi oldFileInfo) Sys() any {
	return &syscall.Stat_t{Ino: 42, Ctim: syscall.NsecToTimespec(fi.mtime.UnixNano())}
}

// benchTree returns a tree of n files in folders of 100, the shape of the
// many-files benchmark workload.
func benchTree(n int) *Tree {
	t := &Tree{}
	for i := range n {
		if i%100 == 0 {
			t.Entries = append(t.Entries, TreeEntry{Path: fmt.Sprintf("d%04d", i/100), Kind: KindDir, Perm: 0o755})
		}
		path := fmt.Sprintf("d%04d/f%03d.bin", i/100, i%100)
		t.Entries = append(t.Entries, TreeEntry{Path: path, Kind: KindFile, Perm: 0o644, Size: int64(1024 + i%9000), Digest: SumBytes([]byte(path))})
	}
	return t
}

// encodeTreeWithFmt is the encoding Tree.Encode must produce, written
// with fmt as the format was first defined.
func encodeTreeWithFmt(t *Tree) []byte {
	var b bytes.Buffer
	b.WriteString(treeHeader)
	for _, e := range t.Entries {
		switch e.Kind {
		case KindFile:
			fmt.Fprintf(&b, "f %04o %d %s %s\n", e.Perm, e.Size, e.Digest, strconv.Quote(e.Path))
		case KindDir:
			fmt.Fprintf(&b, "d %04o %s\n", e.Perm, strconv.Quote(e.Path))
		case KindSymlink:
			fmt.Fprintf(&b, "l %s %s\n", strconv.Quote(e.Target), strconv.Quote(e.Path))
		}
	}
	return b.Bytes()
}

func TestTreeEncodeMatchesFmt(t *testing.T) {
	tree := benchTree(300)
	tree.Entries = append(tree.Entries,
		TreeEntry{Path: "odd \"name\"\n\xff", Kind: KindFile, Perm: 0, Size: 0, Digest: SumBytes(nil)},
		TreeEntry{Path: "setuid", Kind: KindFile, Perm: 0o7777, Size: 1 << 40, Digest: SumBytes([]byte("x"))},
		TreeEntry{Path: "empty-dir", Kind: KindDir, Perm: 0o700},
		TreeEntry{Path: "link", Kind: KindSymlink, Target: "../a b/\tc"},
		TreeEntry{Path: "unknown", Kind: EntryKind('?')},
	)
	got, want := tree.Encode(), encodeTreeWithFmt(tree)
	if !bytes.Equal(got, want) {
		t.Errorf("Encode differs from the fmt encoding:\ngot:  %q\nwant: %q", got[len(got)-300:], want[len(want)-300:])
	}
}

// BenchmarkTreeEncode encodes the manifest of a folder of 10,000 files.
func BenchmarkTreeEncode(b *testing.B) {
	t := benchTree(10000)
	b.SetBytes(int64(len(t.Encode())))
	for b.Loop() {
		t.Encode()
	}
}

// BenchmarkTreeDecode decodes the manifest of a folder of 10,000 files.
func BenchmarkTreeDecode(b *testing.B) {
	data := benchTree(10000).Encode()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeTree(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanTree scans a folder of 1,000 files of 4 KiB with their stat
// data in the index, as a no-op build does, and with an empty index, as the
// first build does.
func BenchmarkScanTree(b *testing.B) {
	dir := b.TempDir()
	for i := range 1000 {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i/100))
		if i%100 == 0 {
			if err := os.Mkdir(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		benchWriteFile(b, sub, fmt.Sprintf("f%03d", i%100), 4<<10)
	}
	b.Run("indexed", func(b *testing.B) {
		ix := LoadIndex(filepath.Join(b.TempDir(), "index"))
		if _, err := ScanTree(dir, ix); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := ScanTree(dir, ix); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unindexed", func(b *testing.B) {
		for b.Loop() {
			ix := LoadIndex(filepath.Join(b.TempDir(), "index"))
			if _, err := ScanTree(dir, ix); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIndexLookup looks files up in an index of 100,000 entries.
func BenchmarkIndexLookup(b *testing.B) {
	dir := b.TempDir()
	path := benchWriteFile(b, dir, "f", 10)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	ix := LoadIndex(filepath.Join(dir, "index"))
	for i := range 100000 {
		ix.Record(fmt.Sprintf("%s.%d", path, i), fi, SumBytes([]byte{byte(i)}))
	}
	ix.Record(path, fi, SumBytes(nil))
	b.Run("hit", func(b *testing.B) {
		for b.Loop() {
			if _, ok := ix.Lookup(path, fi); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ix.Lookup(path, fi)
			}
		})
	})
}

// BenchmarkIndexLoad reads an index file of 100,000 entries, as every
// build starts by doing.
func BenchmarkIndexLoad(b *testing.B) {
	dir := b.TempDir()

	// Stat data of an hour ago, so that Save keeps the entries: it drops
	// those whose mtime or ctime is recent, and no call can set a ctime.
	fi := oldFileInfo{mtime: time.Now().Add(-time.Hour)}
	indexPath := filepath.Join(dir, "index")
	ix := LoadIndex(indexPath)
	for i := range 100000 {
		ix.Record(fmt.Sprintf("data/d%04d/f%03d.bin", i/100, i%100), fi, SumBytes([]byte{byte(i)}))
	}
	if err := ix.Save(); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(indexPath)
	if err != nil {
		b.Fatal(err)
	}
	loaded := LoadIndex(indexPath)
	loaded.load()
	if len(loaded.entries) != 100000 {
		b.Fatalf("index file contains %d entries, want 100000", len(loaded.entries))
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		LoadIndex(indexPath).load()
	}
}

// BenchmarkPutBytes stores new blobs of 4 KiB and 1 MiB: a temp file, a
// write, an fsync and a rename each.
func BenchmarkPutBytes(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			s, err := OpenStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			data := randomBytes(size, 3)
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				// A new first byte makes a new blob each time.
				data[0], data[1] = byte(i), byte(i>>8)
				i++
				if _, err := s.PutBytes(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutFileExisting stores a file whose blob the store already
// has: the copy is hashed and dropped.
func BenchmarkPutFileExisting(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			s, err := OpenStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			path := benchWriteFile(b, b.TempDir(), "f", size)
			if _, _, err := s.PutFile(path); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, _, err := s.PutFile(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadBlob reads and verifies a stored blob.
func BenchmarkReadBlob(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			s, err := OpenStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			d, err := s.PutBytes(randomBytes(size, 4))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := s.ReadBlob(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRestoreFile restores a 16 MiB file output from the store.
func BenchmarkRestoreFile(b *testing.B) {
	s, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	src := benchWriteFile(b, dir, "src", 16<<20)
	d, n, err := s.PutFile(src)
	if err != nil {
		b.Fatal(err)
	}
	o := Output{Name: "out", Path: "out", Kind: KindFile, Perm: 0o644, Size: n, Digest: d}
	dst := filepath.Join(dir, "out")
	b.SetBytes(n)
	for b.Loop() {
		if err := s.Restore(o, dst); err != nil {
			b.Fatal(err)
		}
	}
}

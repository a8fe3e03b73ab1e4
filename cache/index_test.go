package cache

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

func stat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// An entry recorded for a settled file is served in this process and, once
// saved, in the next one.
func TestIndexLookupOldFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "train.csv")
	makeOld(t, map[string]string{path: "a,b\n1,2\n"})
	want := SumBytes([]byte("a,b\n1,2\n"))

	indexPath := filepath.Join(dir, "state", "index")
	ix := LoadIndex(indexPath)
	if _, ok := ix.Lookup(path, stat(t, path)); ok {
		t.Fatal("Lookup hit in an empty index")
	}
	d, _, err := ix.FileDigest(path)
	if err != nil {
		t.Fatal(err)
	}
	if d != want {
		t.Fatalf("FileDigest = %s, want %s", d, want)
	}
	if got, ok := ix.Lookup(path, stat(t, path)); !ok || got != want {
		t.Errorf("Lookup after FileDigest = %s, %v; want %s, true", got, ok, want)
	}
	if err := ix.Save(); err != nil {
		t.Fatal(err)
	}

	loaded := LoadIndex(indexPath)
	if got, ok := loaded.Lookup(path, stat(t, path)); !ok || got != want {
		t.Errorf("Lookup in the reloaded index = %s, %v; want %s, true", got, ok, want)
	}
}

// Rewriting a file with the same size and putting its mtime back keeps its
// size, mtime and inode. Only the change time differs, and the lookup must
// miss on it.
func TestIndexMissAfterSameSizeRewrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "params.yaml")
	makeOld(t, map[string]string{path: "depth: 10\n"})
	ix := newIndex(t)
	before := stat(t, path)
	if _, _, err := ix.FileDigest(path); err != nil {
		t.Fatal(err)
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("depth: 99\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	after := stat(t, path)

	// The premise: everything but the change time is as before.
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("size or mtime differ: %d %v, before %d %v", after.Size(), after.ModTime(), before.Size(), before.ModTime())
	}
	if after.Sys().(*syscall.Stat_t).Ino != before.Sys().(*syscall.Stat_t).Ino {
		t.Fatal("the rewrite changed the inode")
	}

	if d, ok := ix.Lookup(path, after); ok {
		t.Errorf("Lookup after a same-size rewrite hit with %s, want a miss", d)
	}
	d, _, err := ix.FileDigest(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := SumBytes([]byte("depth: 99\n")); d != want {
		t.Errorf("FileDigest after the rewrite = %s, want %s", d, want)
	}
}

// A file changed within racyWindow could change again without its stat data
// showing it, so its entry serves this process only.
func TestIndexRacyEntryNotSaved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	settled := filepath.Join(dir, "settled")
	makeOld(t, map[string]string{settled: "old"})
	fresh := filepath.Join(dir, "fresh")
	writeFile(t, fresh, "new", 0o644)

	indexPath := filepath.Join(dir, "index")
	ix := LoadIndex(indexPath)
	for _, p := range []string{settled, fresh} {
		if _, _, err := ix.FileDigest(p); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok := ix.Lookup(fresh, stat(t, fresh)); !ok || got != SumBytes([]byte("new")) {
		t.Errorf("in-process Lookup of the fresh file = %s, %v; want a hit", got, ok)
	}
	if err := ix.Save(); err != nil {
		t.Fatal(err)
	}

	loaded := LoadIndex(indexPath)
	if _, ok := loaded.Lookup(fresh, stat(t, fresh)); ok {
		t.Error("the fresh file's entry was saved, want it kept in-process only")
	}
	if _, ok := loaded.Lookup(settled, stat(t, settled)); !ok {
		t.Error("the settled file's entry was not saved")
	}
}

func TestIndexCorruptFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "settled")
	makeOld(t, map[string]string{path: "old"})

	// A good index file with path's entry, to damage in each case.
	goodPath := filepath.Join(dir, "good-index")
	good := LoadIndex(goodPath)
	if _, _, err := good.FileDigest(path); err != nil {
		t.Fatal(err)
	}
	if err := good.Save(); err != nil {
		t.Fatal(err)
	}
	if _, ok := LoadIndex(goodPath).Lookup(path, stat(t, path)); !ok {
		t.Fatal("the undamaged index misses; the cases below would prove nothing")
	}
	goodBytes, err := os.ReadFile(goodPath)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"garbage", func(*testing.T) []byte { return []byte("this is not an index file") }},
		{"empty", func(*testing.T) []byte { return nil }},
		{"truncated", func(*testing.T) []byte { return goodBytes[:len(goodBytes)-10] }},
		{"other version", func(*testing.T) []byte {
			// A valid checksum, so that only the version differs.
			b := append([]byte(nil), goodBytes...)
			binary.LittleEndian.PutUint32(b[len(indexMagic):], indexVersion+1)
			body := b[:len(b)-indexTrailerSize]
			binary.LittleEndian.PutUint32(b[len(body):], crc32.Checksum(body, indexCRCTable))
			return b
		}},
		{"flipped bit", func(*testing.T) []byte {
			b := append([]byte(nil), goodBytes...)
			b[indexHeaderSize+3] ^= 0x10
			return b
		}},
		{"gob index of version 1", func(t *testing.T) []byte {
			var buf bytes.Buffer
			enc := gob.NewEncoder(&buf)
			if err := enc.Encode(1); err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(map[string]indexEntry{path: {Size: 3}}); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			indexPath := filepath.Join(t.TempDir(), "index")
			if err := os.WriteFile(indexPath, tt.data(t), 0o644); err != nil {
				t.Fatal(err)
			}
			ix := LoadIndex(indexPath)
			ix.load()
			if n := len(ix.entries); n != 0 {
				t.Errorf("damaged index loaded with %d entries, want none", n)
			}
			if d, ok := ix.Lookup(path, stat(t, path)); ok {
				t.Errorf("damaged index: Lookup hit with %s, want a miss", d)
			}

			// The damaged file is replaced by the next save.
			if _, _, err := ix.FileDigest(path); err != nil {
				t.Fatal(err)
			}
			if err := ix.Save(); err != nil {
				t.Fatal(err)
			}
			if _, ok := LoadIndex(indexPath).Lookup(path, stat(t, path)); !ok {
				t.Error("Lookup after saving over the damaged index missed")
			}
		})
	}
}

func TestIndexSaveUnchanged(t *testing.T) {
	indexPath := filepath.Join(t.TempDir(), "index")
	if err := LoadIndex(indexPath).Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(indexPath); !os.IsNotExist(err) {
		t.Errorf("Save of an unchanged index wrote a file (stat error %v)", err)
	}
}

func TestIndexConcurrent(t *testing.T) {
	dir := t.TempDir()
	ix := newIndex(t)
	const files = 8
	for i := range files {
		writeFile(t, filepath.Join(dir, fmt.Sprint(i)), fmt.Sprint("contents ", i), 0o644)
	}

	// Four readers per file, and a writer saving the index meanwhile.
	var wg sync.WaitGroup
	errs := make(chan error, files*4+10)
	for range 4 {
		for i := range files {
			wg.Go(func() {
				p := filepath.Join(dir, fmt.Sprint(i))
				d, _, err := ix.FileDigest(p)
				if err == nil && d != SumBytes([]byte(fmt.Sprint("contents ", i))) {
					err = fmt.Errorf("%s: wrong digest %s", p, d)
				}
				if err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 10 {
			if err := ix.Save(); err != nil {
				errs <- err
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()

	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// indexFixture returns paths in increasing order that share prefixes in
// every way the file layout has to get right: one path a prefix of the
// next, a folder name that sorts after a longer sibling, bytes above 0x7f.
func indexFixture() []string {
	paths := []string{
		"/a",
		"/a b",
		"/a.txt",
		"/a/b",
		"/a/b/c.csv",
		"/a/bb",
		"/data/d0000/f000.bin",
		"/data/d0000/f001.bin",
		"/data/d0001/f000.bin",
		"/data/new\nline",
		"/z/\xff\xfe",
		"/z/\xff\xff",
	}
	for i := range 300 {
		paths = append(paths, fmt.Sprintf("/many/d%02d/f%03d", i/100, i%100))
	}
	slices.Sort(paths)
	return paths
}

// Every entry survives a save and a load, and lookups of paths between and
// around the saved ones miss.
func TestIndexFileRoundTrip(t *testing.T) {
	paths := indexFixture()
	entries := make([]indexEntry, len(paths))
	for i, p := range paths {
		entries[i] = indexEntry{Size: int64(i), Mtime: int64(i) << 33, Ctime: -int64(i), Inode: uint64(i) * 7, Mode: uint32(i), Digest: SumBytes([]byte(p))}
	}
	seq := func(yield func(string, indexEntry) bool) {
		for i, p := range paths {
			if !yield(p, entries[i]) {
				return
			}
		}
	}
	data := encodeIndex(len(paths), seq)
	gotPaths, gotEntries, err := decodeIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotPaths, paths) || !slices.Equal(gotEntries, entries) {
		t.Fatalf("round trip differs:\npaths %q\nwant  %q", gotPaths, paths)
	}

	ix := &Index{paths: gotPaths, entries: gotEntries}
	for i, p := range paths {
		if d, ok := ix.lookup(p, entries[i]); !ok || d != entries[i].Digest {
			t.Errorf("lookup(%q) = %s, %v; want a hit", p, d, ok)
		}
		changed := entries[i]
		changed.Ctime++
		if _, ok := ix.lookup(p, changed); ok {
			t.Errorf("lookup(%q) with another ctime hit", p)
		}
		for _, near := range []string{p + "\x00", p[:len(p)-1], p + "/"} {
			if _, ok := slices.BinarySearch(paths, near); ok {
				continue
			}
			if _, ok := ix.lookup(near, entries[i]); ok {
				t.Errorf("lookup(%q) of a path not in the index hit", near)
			}
		}
	}

	empty := encodeIndex(0, func(func(string, indexEntry) bool) {})
	if p, e, err := decodeIndex(empty); err != nil || len(p) != 0 || len(e) != 0 {
		t.Errorf("empty index: %d paths, %d entries, error %v", len(p), len(e), err)
	}
}

// A recorded entry replaces the loaded one in lookups and in the next
// save. A racy one removes it from the next save.
func TestIndexRecordOverLoaded(t *testing.T) {
	dir := t.TempDir()
	unchanged := filepath.Join(dir, "unchanged")
	changed := filepath.Join(dir, "changed")
	fresh := filepath.Join(dir, "fresh")
	makeOld(t, map[string]string{unchanged: "unchanged", changed: "before", fresh: "old"})
	indexPath := filepath.Join(dir, "index")
	ix := LoadIndex(indexPath)
	for _, p := range []string{unchanged, changed, fresh} {
		if _, _, err := ix.FileDigest(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Save(); err != nil {
		t.Fatal(err)
	}

	// In a new process, as it were: one file gets new contents and settles,
	// and one is recorded with stat data of just now.
	ix = LoadIndex(indexPath)
	makeOld(t, map[string]string{changed: "after!"})
	for _, p := range []string{unchanged, changed} {
		if _, _, err := ix.FileDigest(p); err != nil {
			t.Fatal(err)
		}
	}
	ix.Record(fresh, oldFileInfo{mtime: time.Now()}, SumBytes([]byte("new")))
	if d, ok := ix.Lookup(changed, stat(t, changed)); !ok || d != SumBytes([]byte("after!")) {
		t.Errorf("Lookup of the changed file = %s, %v; want the new digest", d, ok)
	}
	if err := ix.Save(); err != nil {
		t.Fatal(err)
	}

	loaded := LoadIndex(indexPath)
	if d, ok := loaded.Lookup(changed, stat(t, changed)); !ok || d != SumBytes([]byte("after!")) {
		t.Errorf("reloaded Lookup of the changed file = %s, %v; want the new digest", d, ok)
	}
	if _, ok := loaded.Lookup(unchanged, stat(t, unchanged)); !ok {
		t.Error("reloaded Lookup of the unchanged file missed")
	}
	if i, ok := slices.BinarySearch(loaded.paths, fresh); ok {
		t.Errorf("the racy entry's path was saved: %+v", loaded.entries[i])
	}
}

// FuzzDecodeIndex checks that no file makes decodeIndex panic, and that a
// file it accepts is the one encodeIndex writes for what it decoded.
func FuzzDecodeIndex(f *testing.F) {
	paths := indexFixture()
	f.Add(encodeIndex(0, func(yield func(string, indexEntry) bool) {
		for i, p := range paths[:20] {
			if !yield(p, indexEntry{Size: int64(i), Digest: SumBytes([]byte(p))}) {
				return
			}
		}
	}))
	f.Add([]byte(indexMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Most mutations fail the checksum, so fix it for the decoder's
		// own checks to be reached.
		if len(data) >= indexHeaderSize+indexTrailerSize {
			data = slices.Clone(data)
			copy(data, indexMagic)
			binary.LittleEndian.PutUint32(data[len(indexMagic):], indexVersion)
			body := data[:len(data)-indexTrailerSize]
			binary.LittleEndian.PutUint32(data[len(body):], crc32.Checksum(body, indexCRCTable))
		}
		ps, es, err := decodeIndex(data)
		if err != nil {
			return
		}
		again := encodeIndex(0, func(yield func(string, indexEntry) bool) {
			for i, p := range ps {
				if !yield(p, es[i]) {
					return
				}
			}
		})
		if !bytes.Equal(again, data) {
			t.Errorf("decoded and encoded again:\n%q\nwant\n%q", again, data)
		}
	})
}

// Files recorded one by one in any order, in folders nested in each
// other, are all found, replaced and saved in path order.
func TestIndexRecordAnyOrder(t *testing.T) {
	fi := oldFileInfo{mtime: time.Now().Add(-time.Hour)}
	var paths []string
	for i := range 600 {
		paths = append(paths, fmt.Sprintf("/w/%s/f%d", []string{"a", "a/b", "a b", "c"}[i%4], i))
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })

	indexPath := filepath.Join(t.TempDir(), "index")
	ix := LoadIndex(indexPath)
	for _, p := range paths[:300] {
		ix.Record(p, fi, SumBytes([]byte(p)))
	}
	slices.Sort(paths[300:])
	for _, p := range paths[300:] {
		ix.Record(p, fi, SumBytes([]byte("old "+p)))
	}
	for _, p := range paths[300:] {
		ix.Record(p, fi, SumBytes([]byte(p)))
	}
	for _, p := range paths {
		if d, ok := ix.Lookup(p, fi); !ok || d != SumBytes([]byte(p)) {
			t.Fatalf("Lookup(%s) = %s, %v; want its digest", p, d, ok)
		}
	}
	if err := ix.Save(); err != nil {
		t.Fatal(err)
	}

	loaded := LoadIndex(indexPath)
	loaded.load()
	slices.Sort(paths)
	if !slices.Equal(loaded.paths, paths) {
		t.Fatalf("saved paths differ:\n%q\nwant\n%q", loaded.paths, paths)
	}
	for i, p := range paths {
		if loaded.entries[i].Digest != SumBytes([]byte(p)) {
			t.Errorf("saved entry of %s has the wrong digest", p)
		}
	}
}

package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// walkDirTree returns the tree of dir that a serial walk with
// filepath.WalkDir finds, with every file hashed. ScanTree must return the
// same tree.
func walkDirTree(t *testing.T, dir string) *Tree {
	t.Helper()
	tree := &Tree{}
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := de.Info()
		if err != nil {
			return err
		}
		e := TreeEntry{Path: filepath.ToSlash(rel), Perm: fi.Mode().Perm()}
		switch {
		case fi.IsDir():
			e.Kind = KindDir
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Kind, e.Perm = KindSymlink, 0
			e.Target, err = os.Readlink(p)
		default:
			e.Kind, e.Size = KindFile, fi.Size()
			e.Digest, _, err = HashFile(p)
		}
		tree.Entries = append(tree.Entries, e)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(tree.Entries, func(i, j int) bool { return tree.Entries[i].Path < tree.Entries[j].Path })
	return tree
}

// wideTree makes a folder for ScanTree to get wrong in every way it could.
// It has folders of many files, a folder of several jobs' worth of files
// with sub-folders among them, nested folders, and names that sort around
// a folder's name and its separator. It also has files larger than a read
// buffer, empty folders and symlinks.
func wideTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "wide")

	// Many folders, one deep chain, and a folder of several jobs.
	for i := range 40 {
		for j := range 30 {
			writeFile(t, filepath.Join(dir, fmt.Sprintf("d%02d", i), fmt.Sprintf("f%02d.csv", j)), fmt.Sprint(i, j), 0o644)
		}
	}
	deep := dir
	for i := range 12 {
		deep = filepath.Join(deep, fmt.Sprint("level", i))
		writeFile(t, filepath.Join(deep, "x"), fmt.Sprint("level ", i), 0o600)
	}
	for i := range 3*scanPart + 7 {
		writeFile(t, filepath.Join(dir, "flat", fmt.Sprintf("f%04d", i)), fmt.Sprint(i), 0o644)
	}
	for _, sub := range []string{"e", "f0300a", "f0300.d", "f0767x", "g"} {
		writeFile(t, filepath.Join(dir, "flat", sub, "leaf"), sub, 0o644)
	}

	// Names whose order differs from a depth-first walk's, and odd names.
	for _, name := range []string{"a", "a.txt", "a-b", "a b", "a/b", "a/b.txt", "a/b/c", "a0"} {
		writeFile(t, filepath.Join(dir, "order", name, "leaf"), name, 0o644)
	}
	for i, name := range oddNames {
		writeFile(t, filepath.Join(dir, "odd", name), strings.Repeat(name, i), 0o755)
	}

	// Files around the size of a read buffer, empty folders and symlinks.
	writeFile(t, filepath.Join(dir, "big", "exact"), string(randomBytes(hashBufferSize, 1)), 0o644)
	writeFile(t, filepath.Join(dir, "big", "over"), string(randomBytes(3*hashBufferSize+5, 2)), 0o644)
	writeFile(t, filepath.Join(dir, "big", "under"), string(randomBytes(hashBufferSize-1, 3)), 0o644)
	for _, empty := range []string{"empty", "d07/empty", "deeper/empty/still"} {
		if err := os.MkdirAll(filepath.Join(dir, empty), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"d03/up": "..", "abs": "/nonexistent/x", "odd/self": "self", "rel": "d01/f01.csv"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ScanTree returns the tree a serial walk does, with an empty index, with
// the index it filled, and with that index saved and loaded again.
func TestScanTreeMatchesWalkDir(t *testing.T) {
	dir := wideTree(t)
	want := walkDirTree(t, dir)
	time.Sleep(racyWindow + 200*time.Millisecond) // so that the index saves every entry
	indexPath := filepath.Join(t.TempDir(), "index")
	ix := LoadIndex(indexPath)
	for _, pass := range []string{"empty index", "filled index", "loaded index"} {
		got, err := ScanTree(dir, ix)
		if err != nil {
			t.Fatalf("%s: %v", pass, err)
		}
		if !reflect.DeepEqual(got.Entries, want.Entries) {
			t.Fatalf("%s: ScanTree differs from a serial walk:\n%s\nwant\n%s", pass, got.Encode(), want.Encode())
		}
		if err := ix.Save(); err != nil {
			t.Fatal(err)
		}
		if pass == "filled index" {
			ix = LoadIndex(indexPath)
		}
	}
	if len(ix.paths) < 2000 || len(ix.recorded) != 0 {
		t.Errorf("the scan with the loaded index had %d entries from the file and recorded %d, want all from the file", len(ix.paths), len(ix.recorded))
	}

	// Every file went into the index, the large ones too.
	for _, e := range want.Entries {
		if e.Kind != KindFile {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(e.Path))
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := ix.Lookup(p, fi); !ok || d != e.Digest {
			t.Errorf("Lookup(%s) after ScanTree = %s, %v; want %s", e.Path, d, ok, e.Digest)
		}
	}
}

// The same path reaches the index whether dir is spelled cleanly or not,
// so that FileDigest and ScanTree share entries.
func TestScanTreeIndexPaths(t *testing.T) {
	dir := fixtureTree(t)
	ix := newIndex(t)
	if _, err := ScanTree(dir+"/./sub/..//", ix); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sub", "deep.txt")
	if d, ok := ix.Lookup(p, stat(t, p)); !ok || d != SumBytes([]byte("deep")) {
		t.Errorf("Lookup(%s) after scanning an unclean path = %s, %v; want a hit", p, d, ok)
	}
}

// A dir that is not a folder has an empty tree, as with a serial walk. A
// missing one is an error that wraps fs.ErrNotExist and names the path.
func TestScanTreeRoot(t *testing.T) {
	dir := fixtureTree(t)
	for _, p := range []string{filepath.Join(dir, "data.csv"), filepath.Join(dir, "link")} {
		tree, err := ScanTree(p, newIndex(t))
		if err != nil || len(tree.Entries) != 0 {
			t.Errorf("ScanTree(%s) = %d entries, %v; want none and no error", p, len(tree.Entries), err)
		}
	}
	empty := filepath.Join(dir, "empty")
	if tree, err := ScanTree(empty, newIndex(t)); err != nil || tree.Entries != nil {
		t.Errorf("ScanTree of an empty folder = %#v, %v; want no entries", tree, err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := ScanTree(missing, newIndex(t)); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("ScanTree of a missing folder: error %v, want one that wraps fs.ErrNotExist and names it", err)
	}
}

// An error deep in the walk stops it and names the file.
func TestScanTreeErrorDeep(t *testing.T) {
	dir := wideTree(t)
	pipe := filepath.Join(dir, "d17", "pipe")
	if err := mkfifo(pipe); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	_, err := ScanTree(dir, newIndex(t))
	if err == nil || !strings.Contains(err.Error(), pipe+": unsupported file type") {
		t.Errorf("ScanTree with a FIFO deep inside: error %v, want it named", err)
	}
}

// statOf gives the mode and index key that Index.Lookup derives from
// os.Lstat, for every kind of file.
func TestStatOfMatchesOS(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "file"), "x", 0o640)
	writeFile(t, filepath.Join(dir, "setuid"), "x", 0o755|fs.ModeSetuid|fs.ModeSetgid)
	if err := os.Mkdir(filepath.Join(dir, "sticky"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "sticky"), 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	names := []string{"file", "setuid", "sticky", "link"}
	if mkfifo(filepath.Join(dir, "fifo")) == nil {
		names = append(names, "fifo")
	}
	names = append(names, "/dev/null")

	for _, name := range names {
		p := filepath.Join(dir, name)
		if filepath.IsAbs(name) {
			p = name
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st, err := lstatPath(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.mode != fi.Mode() {
			t.Errorf("%s: mode %v, os.Lstat says %v", name, st.mode, fi.Mode())
		}
		if want := entryFor(fi, Digest{}); st.key != want {
			t.Errorf("%s: index key %+v, want %+v", name, st.key, want)
		}
	}
}

// Scans of overlapping folders share one index; run with -race.
func TestScanTreeConcurrent(t *testing.T) {
	dir := wideTree(t)
	want := walkDirTree(t, dir)
	ix := newIndex(t)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			got, err := ScanTree(dir, ix)
			if err != nil {
				t.Error(err)
				return
			}
			if !reflect.DeepEqual(got.Entries, want.Entries) {
				t.Errorf("scan %d differs from a serial walk", i)
			}
			if _, err := ScanTree(filepath.Join(dir, "d05"), ix); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// hashSmall hashes the whole file whatever size its caller saw.
func TestHashSmallSizeChanged(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 4096, hashBufferSize - 1, hashBufferSize, 2*hashBufferSize + 3} {
		data := randomBytes(size, uint64(size))
		name := fmt.Sprint("f", size)
		writeFile(t, filepath.Join(dir, name), string(data), 0o644)
		h, err := openDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, seen := range []int64{int64(size), int64(size) - 1, int64(size) + 1, 0} {
			d, err := h.hashSmall(name, filepath.Join(dir, name), seen)
			if err != nil || d != SumBytes(data) {
				t.Errorf("file of %d bytes, seen with %d: digest %s, %v; want %s", size, seen, d, err, SumBytes(data))
			}
		}
		h.close()
	}
}

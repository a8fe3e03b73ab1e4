package cache

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
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
		{"garbage", func(*testing.T) []byte { return []byte("this is not a gob stream") }},
		{"empty", func(*testing.T) []byte { return nil }},
		{"truncated", func(*testing.T) []byte { return goodBytes[:len(goodBytes)-10] }},
		{"other version", func(t *testing.T) []byte {
			p := filepath.Join(t.TempDir(), "v")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			w := bufio.NewWriter(f)
			enc := gob.NewEncoder(w)
			if err := enc.Encode(indexVersion + 1); err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(LoadIndex(goodPath).entries); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			return []byte(readFile(t, p))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			indexPath := filepath.Join(t.TempDir(), "index")
			if err := os.WriteFile(indexPath, tt.data(t), 0o644); err != nil {
				t.Fatal(err)
			}
			ix := LoadIndex(indexPath)
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

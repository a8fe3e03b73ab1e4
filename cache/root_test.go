package cache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestRootStatMatchesOSStat checks that Root.Stat gives what os.Stat gives
// for files, folders, symlinks and missing paths, and that the index finds
// the same entry through either.
func TestRootStatMatchesOSStat(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "sub", "a.txt"), "abc", 0o640)
	writeFile(t, filepath.Join(dir, "x.sh"), "#!/bin/sh\n", 0o755)
	if err := os.Symlink("sub/a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	ix := newIndex(t)
	for _, name := range []string{"sub/a.txt", "x.sh", "sub", "link", filepath.Join(dir, "x.sh")} {
		want, err := os.Stat(filepath.Join(dir, name))
		if filepath.IsAbs(name) {
			want, err = os.Stat(name)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Stat(name)
		if err != nil {
			t.Fatalf("Stat(%s): %v", name, err)
		}
		if got.Size() != want.Size() || got.Mode() != want.Mode() || !got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() || got.Name() != want.Name() {
			t.Errorf("Stat(%s) = %s %v %v %s, want %s %v %v %s", name, got.Name(), got.Size(), got.Mode(), got.ModTime(), want.Name(), want.Size(), want.Mode(), want.ModTime())
		}
		if entryFor(got, Digest{}) != entryFor(want, Digest{}) {
			t.Errorf("Stat(%s): the index sees %+v, want %+v", name, entryFor(got, Digest{}), entryFor(want, Digest{}))
		}
		if !want.IsDir() {
			ix.Record(filepath.Join(dir, name), want, Digest{1})
			if _, ok := ix.Lookup(filepath.Join(dir, name), got); !ok {
				t.Errorf("Stat(%s): an entry recorded with os.Stat is not found", name)
			}
		}
	}
	if _, err := r.Stat("missing/file"); !errors.Is(err, fs.ErrNotExist) || !os.IsNotExist(err) {
		t.Errorf("Stat of a missing file: %v, want a not-exist error", err)
	}
}

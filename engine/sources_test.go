package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlbuild/mlb/cache"
)

const packedSourcesPipeline = `
stage "join" {
  inputs  = { a = "a.txt", b = "b.txt", c = "c.txt" }
  outputs = { out = "out.txt" }
  command = "cat a.txt b.txt c.txt > out.txt"
}
`

// TestSourcesPacked checks that a build puts its small source files in
// one pack, not in loose blobs, that a later build packs only the source
// that changed, and that a run's sources restore from their packs.
func TestSourcesPacked(t *testing.T) {
	root := newWorkspace(t, packedSourcesPipeline, map[string]string{
		"a.txt": "alpha\n", "b.txt": "beta\n", "c.txt": "gamma\n",
	})
	first := buildWithParams(t, root, nil)
	w := openForHistory(t, root)
	if got := storeFiles(t, w.Store, "packs"); len(got) != 1 {
		t.Fatalf("packs after the first build: %v, want one", got)
	}
	if len(first.Sources) != 3 {
		t.Fatalf("first run lists %d sources, want 3", len(first.Sources))
	}
	for _, s := range first.Sources {
		if _, err := os.Stat(w.Store.BlobPath(s.Digest)); err == nil {
			t.Errorf("source %s is a loose blob, not packed", s.Path)
		}
		if !w.Store.HasBlob(s.Digest) {
			t.Errorf("source %s is not in the cache", s.Path)
		}
	}

	writeFiles(t, root, map[string]string{"b.txt": "beta, changed\n"})
	second := buildWithParams(t, root, nil)
	if got := storeFiles(t, w.Store, "packs"); len(got) != 2 {
		t.Fatalf("packs after the second build: %v, want two", got)
	}
	changed := cache.SumBytes([]byte("beta, changed\n"))
	found := false
	for _, s := range second.Sources {
		found = found || s.Digest == changed
	}
	if !found {
		t.Errorf("second run's sources %v lack the changed b.txt", second.Sources)
	}

	// The first run's sources restore from the first pack.
	dest := t.TempDir()
	for _, s := range first.Sources {
		if err := w.Store.Restore(s, filepath.Join(dest, s.Path)); err != nil {
			t.Fatalf("restore %s: %v", s.Path, err)
		}
	}
	if got := readWorkspaceFile(t, dest, "b.txt"); got != "beta\n" {
		t.Errorf("restored b.txt of the first run = %q, want %q", got, "beta\n")
	}
}

const folderSourcePipeline = `
stage "count" {
  inputs  = { data = "data" }
  outputs = { out = "count.txt" }
  command = "ls data > count.txt"
}
`

// TestFolderSourcePacked checks that the files and the tree of a folder
// source go into the build's pack, and that the folder restores from it.
func TestFolderSourcePacked(t *testing.T) {
	root := newWorkspace(t, folderSourcePipeline, map[string]string{
		"data/a.txt": "alpha\n", "data/sub/b.txt": "beta\n", "data/sub/c.txt": "gamma\n",
	})
	rec := buildWithParams(t, root, nil)
	w := openForHistory(t, root)
	if len(rec.Sources) != 1 || rec.Sources[0].Kind != cache.KindDir {
		t.Fatalf("sources = %+v, want the one folder", rec.Sources)
	}
	src := rec.Sources[0]
	if got := storeFiles(t, w.Store, "packs"); len(got) != 1 {
		t.Fatalf("packs: %v, want one", got)
	}
	for _, d := range []cache.Digest{src.Digest, cache.SumBytes([]byte("alpha\n")), cache.SumBytes([]byte("gamma\n"))} {
		if _, err := os.Stat(w.Store.BlobPath(d)); err == nil {
			t.Errorf("blob %s is loose, not packed", d)
		}
		if !w.Store.HasBlob(d) {
			t.Errorf("blob %s is not in the cache", d)
		}
	}
	dest := filepath.Join(t.TempDir(), "data")
	if err := w.Store.Restore(src, dest); err != nil {
		t.Fatalf("restore the folder source: %v", err)
	}
	if got := readWorkspaceFile(t, dest, "sub/c.txt"); got != "gamma\n" {
		t.Errorf("restored sub/c.txt = %q", got)
	}
}

// TestSourcesStoredAgainAfterDamage checks that a build that runs no
// stage stores again a source that a damaged pack lost: a file, and a
// file of a source folder whose tree blob is intact.
func TestSourcesStoredAgainAfterDamage(t *testing.T) {
	tests := []struct {
		name     string
		pipeline string
		files    map[string]string
	}{
		{"files", packedSourcesPipeline, map[string]string{"a.txt": "alpha\n", "b.txt": "beta\n", "c.txt": "gamma\n"}},
		{"folder", folderSourcePipeline, map[string]string{"data/a.txt": "alpha\n", "data/sub/b.txt": "beta\n", "data/sub/c.txt": "gamma\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSourceStoredAgain(t, newWorkspace(t, tt.pipeline, tt.files))
		})
	}
}

// checkSourceStoredAgain damages the packed blob of "beta\n", a source
// of the workspace at root, and checks that the next build stores it
// again without running a stage.
func checkSourceStoredAgain(t *testing.T, root string) {
	t.Helper()
	first := buildWithParams(t, root, nil)
	w := openForHistory(t, root)
	pack := filepath.Join(w.Store.Root(), "packs", storeFiles(t, w.Store, "packs")[0])
	data, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("beta"))
	data[i] ^= 0xff
	if err := os.Chmod(pack, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pack, data, 0o644); err != nil {
		t.Fatal(err)
	}
	beta := cache.SumBytes([]byte("beta\n"))
	if _, err := w.Store.ReadBlob(beta); err == nil {
		t.Fatal("a damaged packed blob read without error")
	}
	if w.Store.HasBlob(beta) {
		t.Fatal("the damaged blob is still found")
	}

	second := buildWithParams(t, root, nil)
	if n, _, _, _ := second.Counts(); n != 0 {
		t.Fatalf("second build executed %d stages, want none", n)
	}
	check := openForHistory(t, root)
	if missing := check.Store.MissingFor(first.Sources); len(missing) != 0 {
		t.Errorf("sources still missing after a build: %v", missing)
	}
}

package cache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// richTree creates a directory with modes, nesting, empty folders,
// symlinks and odd names, and sets the top folder's mode to 0750.
func richTree(t *testing.T) string {
	t.Helper()
	dir := fixtureTree(t)
	for _, name := range oddNames {
		writeFile(t, filepath.Join(dir, "odd", name), "odd "+name, 0o640)
	}
	writeFile(t, filepath.Join(dir, "private", "key"), "secret", 0o400)
	if err := os.Chmod(filepath.Join(dir, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "a", "b", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../data.csv", filepath.Join(dir, "sub", "up")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	return dir
}

func scanEntries(t *testing.T, dir string) []TreeEntry {
	t.Helper()
	tree, err := ScanTree(dir, newIndex(t))
	if err != nil {
		t.Fatal(err)
	}
	return tree.Entries
}

// assertNoRestoreTemps fails if a restore left a temp file or folder in dir.
func assertNoRestoreTemps(t *testing.T, dir string) {
	t.Helper()
	for _, name := range dirNames(t, dir) {
		if strings.Contains(name, ".restore-") {
			t.Errorf("restore left %s in %s", name, dir)
		}
	}
}

func TestRestoreDir(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dest string)
	}{
		{"absent", func(*testing.T, string) {}},
		{"leftovers", func(t *testing.T, dest string) {
			writeFile(t, filepath.Join(dest, "stale.txt"), "from an older run", 0o644)
			writeFile(t, filepath.Join(dest, "old", "deep", "x"), "x", 0o644)
			writeFile(t, filepath.Join(dest, "data.csv"), "other contents", 0o666)
			writeFile(t, filepath.Join(dest, "empty"), "a file where a folder belongs", 0o644)
			if err := os.Symlink("stale.txt", filepath.Join(dest, "run.sh")); err != nil {
				t.Fatal(err)
			}
		}},
		{"file in place", func(t *testing.T, dest string) {
			writeFile(t, dest, "a file where the folder belongs", 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			src := richTree(t)
			o, err := s.StoreOutput("plots", "build/plots", src, newIndex(t))
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != KindDir || o.Perm != 0o750 {
				t.Fatalf("StoreOutput = %+v, want a directory with mode 0750", o)
			}
			dest := filepath.Join(t.TempDir(), "work", "build", "plots")
			tt.setup(t, dest)

			if err := s.Restore(o, dest); err != nil {
				t.Fatal(err)
			}
			if got, want := scanEntries(t, dest), scanEntries(t, src); !reflect.DeepEqual(got, want) {
				t.Errorf("restored tree differs from the source:\ngot  %v\nwant %v", got, want)
			}
			fi, err := os.Stat(dest)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o750 {
				t.Errorf("restored folder mode = %v, want 0750", fi.Mode().Perm())
			}
			if !s.Matches(o, dest, newIndex(t)) {
				t.Error("Matches = false right after Restore")
			}
			assertNoRestoreTemps(t, filepath.Dir(dest))
		})
	}
}

func TestRestoreFile(t *testing.T) {
	tests := []struct {
		name string
		perm fs.FileMode
		// setup prepares the destination and may return a check to run
		// after the restore.
		setup func(t *testing.T, dest string) func(t *testing.T)
	}{
		{"absent 0644", 0o644, func(*testing.T, string) func(*testing.T) { return nil }},
		{"absent 0755", 0o755, func(*testing.T, string) func(*testing.T) { return nil }},
		{"over other mode 0600", 0o600, func(t *testing.T, dest string) func(*testing.T) {
			writeFile(t, dest, "older and longer contents", 0o777)
			return nil
		}},
		{"over read-only 0400", 0o400, func(t *testing.T, dest string) func(*testing.T) {
			writeFile(t, dest, "old", 0o444)
			return nil
		}},
		{"over symlink", 0o644, func(t *testing.T, dest string) func(*testing.T) {
			target := filepath.Join(t.TempDir(), "target")
			writeFile(t, target, "must stay", 0o644)
			if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, dest); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if got := readFile(t, target); got != "must stay" {
					t.Errorf("restore wrote through the symlink: its target holds %q", got)
				}
			}
		}},
		{"over folder", 0o644, func(t *testing.T, dest string) func(*testing.T) {
			writeFile(t, filepath.Join(dest, "inner"), "a folder where the file belongs", 0o644)
			return nil
		}},
		{"after a killed restore", 0o644, func(t *testing.T, dest string) func(*testing.T) {
			dir, base := filepath.Dir(dest), filepath.Base(dest)
			writeFile(t, filepath.Join(dir, "."+base+".restore-123"), "half a model", 0o600)
			writeFile(t, filepath.Join(dir, "."+base+".restore-456", "inner"), "half a folder", 0o644)
			writeFile(t, filepath.Join(dir, ".other.restore-789"), "another output's", 0o600)
			return func(t *testing.T) {
				if _, err := os.Stat(filepath.Join(dir, ".other.restore-789")); err != nil {
					t.Errorf("the temp file of another output went: %v", err)
				}
				_ = os.Remove(filepath.Join(dir, ".other.restore-789"))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			src := filepath.Join(t.TempDir(), "model.pkl")
			writeFile(t, src, "weights v1", tt.perm)
			o, err := s.StoreOutput("model", "build/model.pkl", src, newIndex(t))
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != KindFile || o.Perm != tt.perm || o.Size != 10 {
				t.Fatalf("StoreOutput = %+v, want a 10-byte file with mode %v", o, tt.perm)
			}
			dest := filepath.Join(t.TempDir(), "build", "model.pkl")
			check := tt.setup(t, dest)

			if err := s.Restore(o, dest); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(dest)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != tt.perm {
				t.Errorf("restored file mode = %v, want a regular file with %v", fi.Mode(), tt.perm)
			}
			if got := readFile(t, dest); got != "weights v1" {
				t.Errorf("restored contents = %q, want %q", got, "weights v1")
			}
			if !s.Matches(o, dest, newIndex(t)) {
				t.Error("Matches = false right after Restore")
			}
			if check != nil {
				check(t)
			}
			assertNoRestoreTemps(t, filepath.Dir(dest))
		})
	}
}

// A blob that was changed or cut short on disk must never reach the
// workspace: Restore fails with a miss and the destination keeps its old
// contents.
func TestRestoreCorruptBlob(t *testing.T) {
	type target int
	const (
		fileOutput target = iota
		fileInDir
		treeBlob
	)
	tests := []struct {
		name   string
		target target
		edit   func([]byte) []byte
	}{
		{"file byte changed", fileOutput, flipFirstByte},
		{"file truncated", fileOutput, truncateHalf},
		{"file in dir byte changed", fileInDir, flipFirstByte},
		{"file in dir truncated", fileInDir, truncateHalf},
		{"tree byte changed", treeBlob, flipFirstByte},
		{"tree truncated", treeBlob, truncateHalf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			work := t.TempDir()
			var o Output
			var damaged Digest
			var err error
			if tt.target == fileOutput {
				src := filepath.Join(t.TempDir(), "model.pkl")
				writeFile(t, src, "weights v2", 0o644)
				o, err = s.StoreOutput("model", "model.pkl", src, newIndex(t))
				damaged = o.Digest
			} else {
				src := filepath.Join(t.TempDir(), "plots")
				writeFile(t, filepath.Join(src, "a.png"), "new plot", 0o644)
				o, err = s.StoreOutput("plots", "plots", src, newIndex(t))
				damaged = o.Digest
				if tt.target == fileInDir {
					damaged = SumBytes([]byte("new plot"))
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(work, o.Path)
			old := "old " + o.Path
			if o.Kind == KindFile {
				writeFile(t, dest, old, 0o644)
			} else {
				writeFile(t, filepath.Join(dest, "a.png"), old, 0o644)
			}
			damage(t, s.BlobPath(damaged), tt.edit)

			err = s.Restore(o, dest)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Restore from a damaged blob: error %v, want a *CorruptError", err)
			}
			if !IsMiss(err) {
				t.Error("IsMiss = false for the restore error")
			}
			if s.HasBlob(damaged) {
				t.Error("damaged blob still in the store")
			}
			oldPath := dest
			if o.Kind == KindDir {
				oldPath = filepath.Join(dest, "a.png")
				if names := dirNames(t, dest); !reflect.DeepEqual(names, []string{"a.png"}) {
					t.Errorf("destination folder holds %v, want only its old a.png", names)
				}
			}
			if got := readFile(t, oldPath); got != old {
				t.Errorf("destination holds %q, want its old contents %q", got, old)
			}
			assertNoRestoreTemps(t, filepath.Dir(dest))
		})
	}
}

func TestRestoreMissingBlob(t *testing.T) {
	tests := []struct {
		name string
		dir  bool
	}{
		{"file", false},
		{"dir", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			src := filepath.Join(t.TempDir(), "out")
			if tt.dir {
				writeFile(t, filepath.Join(src, "f"), "new", 0o644)
			} else {
				writeFile(t, src, "new", 0o644)
			}
			o, err := s.StoreOutput("out", "out", src, newIndex(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(s.BlobPath(SumBytes([]byte("new")))); err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(t.TempDir(), "out")
			oldPath := dest
			if tt.dir {
				oldPath = filepath.Join(dest, "f")
			}
			writeFile(t, oldPath, "old", 0o644)

			err = s.Restore(o, dest)
			if !errors.Is(err, ErrNotFound) || !IsMiss(err) {
				t.Fatalf("Restore with a missing blob: error %v, want ErrNotFound", err)
			}
			if got := readFile(t, oldPath); got != "old" {
				t.Errorf("destination holds %q, want its old contents", got)
			}
			assertNoRestoreTemps(t, filepath.Dir(dest))
		})
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		name   string
		dir    bool
		mutate func(t *testing.T, path string)
		want   bool
	}{
		{"file unchanged", false, func(*testing.T, string) {}, true},
		{"file content", false, func(t *testing.T, p string) { writeFile(t, p, "longer contents", 0o644) }, false},
		{"file mode", false, func(t *testing.T, p string) { chmod(t, p, 0o600) }, false},
		{"file removed", false, func(t *testing.T, p string) { remove(t, p) }, false},
		{"file became dir", false, func(t *testing.T, p string) {
			remove(t, p)
			writeFile(t, filepath.Join(p, "x"), "x", 0o644)
		}, false},
		{"dir unchanged", true, func(*testing.T, string) {}, true},
		{"dir file added", true, func(t *testing.T, p string) { writeFile(t, filepath.Join(p, "new"), "", 0o644) }, false},
		{"dir mode", true, func(t *testing.T, p string) { chmod(t, p, 0o700) }, false},
		{"dir became file", true, func(t *testing.T, p string) {
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, "x", 0o755)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			ix := newIndex(t)
			path := filepath.Join(t.TempDir(), "out")
			if tt.dir {
				writeFile(t, filepath.Join(path, "f"), "f", 0o644)
				chmod(t, path, 0o755)
			} else {
				writeFile(t, path, "contents", 0o644)
			}
			o, err := s.StoreOutput("out", "out", path, ix)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(t, path)
			if got := s.Matches(o, path, ix); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStoreOutputRejectsSymlink(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real"), "x", 0o644)
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoreOutput("out", "link", link, newIndex(t)); err == nil {
		t.Error("StoreOutput of a symlink succeeded, want an error")
	}
}

func chmod(t *testing.T, path string, perm fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// A tree read from the store must not write outside the folder it restores,
// whatever paths a damaged or hostile blob lists.
func TestRestoreRejectsEscapingPath(t *testing.T) {
	tests := []string{"../evil", "a/../../evil", "/tmp/evil", "a//evil", "./evil", ""}
	for _, p := range tests {
		t.Run(p, func(t *testing.T) {
			s := newStore(t)
			d, err := s.PutBytes([]byte("evil"))
			if err != nil {
				t.Fatal(err)
			}
			tree := &Tree{Entries: []TreeEntry{{Path: p, Kind: KindFile, Perm: 0o644, Size: 4, Digest: d}}}
			td, err := s.PutBytes(tree.Encode())
			if err != nil {
				t.Fatal(err)
			}
			work := t.TempDir()
			dest := filepath.Join(work, "sub", "out")
			o := Output{Name: "out", Path: "sub/out", Kind: KindDir, Perm: 0o755, Digest: td}
			if err := s.Restore(o, dest); err == nil {
				t.Errorf("Restore of a tree with entry %q succeeded, want an error", p)
			}
			for _, name := range []string{filepath.Join(work, "evil"), filepath.Join(work, "sub", "evil")} {
				if _, err := os.Lstat(name); err == nil {
					t.Errorf("Restore wrote %s outside its folder", name)
				}
			}
			assertNoRestoreTemps(t, filepath.Join(work, "sub"))
		})
	}
}

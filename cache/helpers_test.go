package cache

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newIndex(t *testing.T) *Index {
	t.Helper()
	return LoadIndex(filepath.Join(t.TempDir(), "index"))
}

// writeFile creates path and its parent folders and sets perm exactly,
// whatever the umask.
func writeFile(t *testing.T, path, content string, perm fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// damage rewrites the file at path (a blob or an action result, which the
// store makes read-only) with edit applied to its contents.
func damage(t *testing.T, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func flipFirstByte(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[0] ^= 0xff
	return out
}

func truncateHalf(b []byte) []byte { return b[:len(b)/2] }

// dirNames lists the names in dir, or fails the test.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// makeOld writes the files under dir with old modification times and then
// waits until their change times, which no call can set, are older than
// racyWindow, so the index treats them as settled.
func makeOld(t *testing.T, files map[string]string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for path, content := range files {
		writeFile(t, path, content, 0o644)
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(racyWindow + 200*time.Millisecond)
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

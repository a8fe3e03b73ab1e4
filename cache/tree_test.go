package cache

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// oddNames are file names that a line-based encoding could get wrong.
var oddNames = []string{
	"with space",
	"new\nline",
	"carriage\rreturn",
	`quo"te`,
	"single'quote",
	`back\slash`,
	"tab\tname",
	"ünïcode-日本語",
	"emoji-🙂",
	"bad-utf8-\xff\xfe",
	"-leading-dash",
	"trailing space ",
}

func TestTreeEncodeRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		entries []TreeEntry
	}{
		{"empty tree", nil},
		{"plain", []TreeEntry{
			{Path: "a.txt", Kind: KindFile, Perm: 0o644, Size: 3, Digest: SumBytes([]byte("abc"))},
			{Path: "bin", Kind: KindDir, Perm: 0o755},
			{Path: "bin/run", Kind: KindFile, Perm: 0o755, Size: 0, Digest: SumBytes(nil)},
		}},
		{"empty dirs", []TreeEntry{
			{Path: "empty", Kind: KindDir, Perm: 0o700},
			{Path: "empty2", Kind: KindDir, Perm: 0o555},
		}},
		{"symlinks", []TreeEntry{
			{Path: "abs", Kind: KindSymlink, Target: "/etc/hosts"},
			{Path: "dangling", Kind: KindSymlink, Target: "../nowhere"},
			{Path: "link with space", Kind: KindSymlink, Target: "target with \"quotes\"\nand a newline"},
		}},
	}
	var odd []TreeEntry
	for i, name := range oddNames {
		odd = append(odd,
			TreeEntry{Path: name, Kind: KindFile, Perm: 0o600, Size: int64(i), Digest: SumBytes([]byte(name))},
			TreeEntry{Path: "dir " + name, Kind: KindDir, Perm: 0o750},
			TreeEntry{Path: "link " + name, Kind: KindSymlink, Target: name})
	}
	tests = append(tests, struct {
		name    string
		entries []TreeEntry
	}{"odd names", odd})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Tree{Entries: tt.entries}
			enc := in.Encode()
			out, err := DecodeTree(enc)
			if err != nil {
				t.Fatalf("DecodeTree: %v\nencoded:\n%s", err, enc)
			}
			if !reflect.DeepEqual(out.Entries, in.Entries) {
				t.Errorf("round trip = %#v\nwant %#v", out.Entries, in.Entries)
			}
			if out.Digest() != in.Digest() {
				t.Error("digest of the decoded tree differs from the original's")
			}
			if lines := strings.Count(string(enc), "\n"); lines != len(tt.entries)+1 {
				t.Errorf("encoding has %d lines, want a header and one per entry (%d)", lines, len(tt.entries)+1)
			}
		})
	}
}

func TestDecodeTreeInvalid(t *testing.T) {
	good := SumBytes([]byte("x")).String()
	tests := []struct {
		name string
		data string
	}{
		{"no header", `f 0644 1 ` + good + ` "a"` + "\n"},
		{"other version", "mlb-tree-v0\n"},
		{"unknown kind", treeHeader + `x 0644 "a"` + "\n"},
		{"short line", treeHeader + "f\n"},
		{"bad digest", treeHeader + `f 0644 1 1234 "a"` + "\n"},
		{"bad size", treeHeader + `f 0644 big ` + good + ` "a"` + "\n"},
		{"unquoted path", treeHeader + `f 0644 1 ` + good + " a\n"},
		{"unterminated quote", treeHeader + `d 0755 "a` + "\n"},
		{"bad dir mode", treeHeader + `d rwx "a"` + "\n"},
		{"symlink without path", treeHeader + `l "target"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tr, err := DecodeTree([]byte(tt.data)); err == nil {
				t.Errorf("DecodeTree(%q) = %+v, want an error", tt.data, tr)
			}
		})
	}
}

// fixtureTree creates a small directory with a file, an executable, a
// sub-folder, an empty folder and a symlink.
func fixtureTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	writeFile(t, filepath.Join(dir, "data.csv"), "a,b\n1,2\n", 0o644)
	writeFile(t, filepath.Join(dir, "run.sh"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(dir, "sub", "deep.txt"), "deep", 0o600)
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("data.csv", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestScanTreeDigest(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(t *testing.T, dir string)
		changed bool
	}{
		{"nothing", func(*testing.T, string) {}, false},
		{"mtime only", func(t *testing.T, dir string) {
			later := time.Now().Add(time.Hour)
			for _, p := range []string{"data.csv", "sub/deep.txt", "sub", "empty"} {
				if err := os.Chtimes(filepath.Join(dir, p), later, later); err != nil {
					t.Fatal(err)
				}
			}
		}, false},
		{"rewrite same bytes", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "data.csv"), "a,b\n1,2\n", 0o644)
		}, false},
		{"rename file", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "data.csv"), filepath.Join(dir, "data2.csv")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"rename empty dir", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "empty"), filepath.Join(dir, "vacant")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"move into sub", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "run.sh"), filepath.Join(dir, "sub", "run.sh")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"chmod file", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "data.csv"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"chmod dir", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "sub"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"content same size", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "data.csv"), "a,b\n1,3\n", 0o644)
		}, true},
		{"content new size", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "sub", "deep.txt"), "deeper", 0o600)
		}, true},
		{"add empty dir", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "more"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"remove empty dir", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "empty")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"retarget symlink", func(t *testing.T, dir string) {
			link := filepath.Join(dir, "link")
			if err := os.Remove(link); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("run.sh", link); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fixtureTree(t)
			before, err := ScanTree(dir, newIndex(t))
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(t, dir)

			// A fresh index hashes every file again: this tests the tree,
			// not the index, which has its own tests.
			after, err := ScanTree(dir, newIndex(t))
			if err != nil {
				t.Fatal(err)
			}
			if got := after.Digest() != before.Digest(); got != tt.changed {
				t.Errorf("digest changed = %v, want %v\nbefore:\n%s\nafter:\n%s", got, tt.changed, before.Encode(), after.Encode())
			}
		})
	}
}

func TestScanTreeEntries(t *testing.T) {
	dir := fixtureTree(t)
	tree, err := ScanTree(dir, newIndex(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []TreeEntry{
		{Path: "data.csv", Kind: KindFile, Perm: 0o644, Size: 8, Digest: SumBytes([]byte("a,b\n1,2\n"))},
		{Path: "empty", Kind: KindDir, Perm: 0o755},
		{Path: "link", Kind: KindSymlink, Target: "data.csv"},
		{Path: "run.sh", Kind: KindFile, Perm: 0o755, Size: 10, Digest: SumBytes([]byte("#!/bin/sh\n"))},
		{Path: "sub", Kind: KindDir, Perm: 0o755},
		{Path: "sub/deep.txt", Kind: KindFile, Perm: 0o600, Size: 4, Digest: SumBytes([]byte("deep"))},
	}
	if !reflect.DeepEqual(tree.Entries, want) {
		t.Errorf("ScanTree entries =\n%#v\nwant\n%#v", tree.Entries, want)
	}
	if tree.Size() != 22 {
		t.Errorf("Size() = %d, want 22", tree.Size())
	}
}

func TestScanTreeOddNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd")
	for _, name := range oddNames {
		writeFile(t, filepath.Join(dir, name), name, 0o644)
	}
	tree, err := ScanTree(dir, newIndex(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Entries) != len(oddNames) {
		t.Fatalf("ScanTree found %d entries, want %d", len(tree.Entries), len(oddNames))
	}
	decoded, err := DecodeTree(tree.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decoded.Entries, tree.Entries) {
		t.Errorf("decoded entries differ from the scanned ones:\n%#v\n%#v", decoded.Entries, tree.Entries)
	}
}

func TestScanTreeFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := mkfifo(filepath.Join(dir, "pipe")); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	if _, err := ScanTree(dir, newIndex(t)); err == nil || !strings.Contains(err.Error(), "unsupported file type") {
		t.Errorf("ScanTree of a folder with a FIFO: error %v, want unsupported file type", err)
	}
}

func TestAppendQuotedMatchesStrconv(t *testing.T) {
	inputs := append([]string{"", "plain/path.csv", "~tilde", " space"}, oddNames...)
	for c := range 256 {
		inputs = append(inputs, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"z")
	}
	for _, s := range inputs {
		if got, want := string(appendQuoted([]byte("x"), s)), "x"+strconv.Quote(s); got != want {
			t.Errorf("appendQuoted(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestEncodePortable checks that the portable encoding equals the plain
// encoding of the same tree with its permission bits reduced, and leaves
// the tree as it was.
func TestEncodePortable(t *testing.T) {
	tests := []struct {
		name     string
		perm     fs.FileMode
		kind     EntryKind
		wantPerm fs.FileMode
	}{
		{"group-writable file", 0o664, KindFile, 0o644},
		{"private file", 0o600, KindFile, 0o644},
		{"owner-executable file", 0o744, KindFile, 0o755},
		{"group-writable folder", 0o775, KindDir, 0o755},
		{"private folder", 0o700, KindDir, 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := TreeEntry{Path: "a", Kind: tt.kind, Perm: tt.perm}
			if tt.kind == KindFile {
				e.Size, e.Digest = 3, SumBytes([]byte("abc"))
			}
			link := TreeEntry{Path: "b", Kind: KindSymlink, Perm: 0o777, Target: "a"}
			tree := &Tree{Entries: []TreeEntry{e, link}}
			reduced := e
			reduced.Perm = tt.wantPerm
			want := (&Tree{Entries: []TreeEntry{reduced, link}}).Encode()

			if got := tree.EncodePortable(); !bytes.Equal(got, want) {
				t.Errorf("EncodePortable = %q, want %q", got, want)
			}
			if got, want := tree.PortableDigest(), SumBytes(want); got != want {
				t.Errorf("PortableDigest = %s, want %s", got, want)
			}
			if tree.Entries[0].Perm != tt.perm {
				t.Errorf("the tree's entry has mode %o after encoding, want %o", tree.Entries[0].Perm, tt.perm)
			}
		})
	}
}

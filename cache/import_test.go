package cache

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestPutVerified(t *testing.T) {
	data := []byte("blob from elsewhere\n")
	want := SumBytes(data)
	tests := []struct {
		name    string
		body    []byte
		digest  Digest
		size    int64
		corrupt bool
	}{
		{"known size", data, want, int64(len(data)), false},
		{"unknown size", data, want, -1, false},
		{"other bytes", []byte("blob from elsewhere!"), want, int64(len(data)), true},
		{"short", data[:5], want, int64(len(data)), true},
		{"longer than its size", append(append([]byte(nil), data...), "tail"...), want, int64(len(data)), true},
		{"wrong digest, unknown size", data, SumBytes([]byte("x")), -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.PutVerified(bytes.NewReader(tt.body), tt.digest, tt.size)
			var ce *CorruptError
			if tt.corrupt != errors.As(err, &ce) {
				t.Fatalf("PutVerified error = %v, want corrupt: %v", err, tt.corrupt)
			}
			if !tt.corrupt && err != nil {
				t.Fatal(err)
			}
			if got := s.HasBlob(tt.digest); got == tt.corrupt {
				t.Errorf("HasBlob = %v after a put that was corrupt: %v", got, tt.corrupt)
			}
			if !tt.corrupt {
				got, err := s.ReadBlob(tt.digest)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("ReadBlob = %q, %v; want %q", got, err, data)
				}
			}
		})
	}
}

// endlessReader yields zero bytes forever.
type endlessReader struct{ read int64 }

func (r *endlessReader) Read(p []byte) (int, error) {
	clear(p)
	r.read += int64(len(p))
	return len(p), nil
}

func TestPutVerifiedStopsAfterSize(t *testing.T) {
	s := newStore(t)
	src := &endlessReader{}
	n, err := s.PutVerified(src, SumBytes(make([]byte, 10)), 10)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("PutVerified of an endless stream = %v, want a *CorruptError", err)
	}
	if n != 11 {
		t.Errorf("PutVerified read %d bytes, want 11: the size and one more", n)
	}
}

func TestActionEncodeDecode(t *testing.T) {
	k := ActionKey(SumBytes([]byte("key")))
	ar := &ActionResult{
		Key: k, Stage: "train", Created: time.Unix(1700000000, 0).UTC(),
		Outputs: []Output{
			{Name: "b", Path: "build/b", Kind: KindFile, Perm: 0o644, Size: 1, Digest: SumBytes([]byte("b"))},
			{Name: "a", Path: "build/a", Kind: KindFile, Perm: 0o644, Size: 1, Digest: SumBytes([]byte("a"))},
		},
	}
	data, err := EncodeAction(ar)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeAction(data, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stage != "train" || len(got.Outputs) != 2 || got.Outputs[0].Path != "build/a" {
		t.Errorf("DecodeAction = %+v, want stage train with outputs sorted by path", got)
	}
	if ar.Outputs[0].Path != "build/b" {
		t.Errorf("EncodeAction reordered the caller's outputs")
	}

	var ce *CorruptError
	if _, err := DecodeAction(data, ActionKey(SumBytes([]byte("other")))); !errors.As(err, &ce) {
		t.Errorf("DecodeAction under another key = %v, want a *CorruptError", err)
	}
	if _, err := DecodeAction([]byte("not zstd"), k); !errors.As(err, &ce) {
		t.Errorf("DecodeAction of garbage = %v, want a *CorruptError", err)
	}
}

func TestDecodeCompressedLimited(t *testing.T) {
	// A JSON string of 2 MiB compresses to a few hundred bytes.
	data, err := EncodeCompressed(string(bytes.Repeat([]byte("a"), 2<<20)))
	if err != nil {
		t.Fatal(err)
	}
	var v string
	if err := decodeLimited(newLimitedDecoder(1<<20), data, &v); err == nil {
		t.Errorf("decoding %d compressed bytes that expand past a 1 MiB limit: no error", len(data))
	}
	if err := decodeLimited(newLimitedDecoder(4<<20), data, &v); err != nil || len(v) != 2<<20 {
		t.Errorf("decoding them with a 4 MiB limit = %d bytes, %v; want all 2 MiB", len(v), err)
	}
}

func TestTreeValidate(t *testing.T) {
	d := SumBytes(nil)
	file := func(p string) TreeEntry { return TreeEntry{Path: p, Kind: KindFile, Perm: 0o644, Digest: d} }
	dir := func(p string) TreeEntry { return TreeEntry{Path: p, Kind: KindDir, Perm: 0o755} }
	link := func(p, target string) TreeEntry { return TreeEntry{Path: p, Kind: KindSymlink, Target: target} }
	tests := []struct {
		name    string
		entries []TreeEntry
		valid   bool
	}{
		{"empty", nil, true},
		{"nested", []TreeEntry{file("a"), dir("d"), dir("d/e"), file("d/e/y"), file("d/x")}, true},
		{"link to anywhere", []TreeEntry{link("l", "/etc/passwd"), link("m", "../../x")}, true},
		{"parent step", []TreeEntry{file("../x")}, false},
		{"inner parent step", []TreeEntry{dir("d"), file("d/../../x")}, false},
		{"absolute", []TreeEntry{file("/etc/x")}, false},
		{"empty element", []TreeEntry{dir("d"), file("d//x")}, false},
		{"under a symlink", []TreeEntry{link("l", "/tmp"), file("l/x")}, false},
		{"parent not listed", []TreeEntry{file("d/x")}, false},
		{"parent is a file", []TreeEntry{file("d"), file("d/x")}, false},
		{"repeated", []TreeEntry{file("a"), file("a")}, false},
		{"out of order", []TreeEntry{file("b"), file("a")}, false},
		{"negative size", []TreeEntry{{Path: "a", Kind: KindFile, Size: -1, Digest: d}}, false},
		{"unknown kind", []TreeEntry{{Path: "a", Kind: 'x'}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Tree{Entries: tt.entries}).Validate()
			if (err == nil) != tt.valid {
				t.Errorf("Validate = %v, want valid: %v", err, tt.valid)
			}
		})
	}
}

func TestScanTreeValidates(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/a/b/c.txt", "c", 0o644)
	writeFile(t, dir+"/a-b", "x", 0o600)
	writeFile(t, dir+"/z", "z", 0o644)
	tr, err := ScanTree(dir, newIndex(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Validate(); err != nil {
		t.Errorf("a tree from ScanTree fails Validate: %v", err)
	}
}

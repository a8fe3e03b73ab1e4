package cache

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheck damages a loose small blob, a loose large blob and a packed
// blob, and checks that Check finds exactly those, removes them, keeps
// every other blob, counts them all, and lists the good large blob as
// verified.
func TestCheck(t *testing.T) {
	s := newStore(t)
	goodSmall, err := s.PutBytes([]byte("good small blob\n"))
	if err != nil {
		t.Fatal(err)
	}
	badSmall, err := s.PutBytes([]byte("bad small blob\n"))
	if err != nil {
		t.Fatal(err)
	}
	goodLarge, _ := storeLarge(t, s, trustMinSize+1, 8)
	badLarge, _ := storeLarge(t, s, trustMinSize+2, 9)
	ds := packFiles(t, s, "packed, kept\n", "packed, damaged\n")

	damage(t, s.BlobPath(badSmall), flipFirstByte)
	damage(t, s.BlobPath(badLarge.Digest), flipFirstByte)
	pack := filepath.Join(s.packsDir(), packNames(t, s)[0])
	damage(t, pack, func(b []byte) []byte {
		b[bytes.Index(b, []byte("packed, damaged"))] ^= 0xff
		return b
	})
	epoch := s.Epoch()

	var calls int
	st, err := s.Check(context.Background(), func(blobs, total int, _, _ int64) {
		calls++
		if blobs > total {
			t.Errorf("progress %d of %d blobs", blobs, total)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 6 || calls != 6 {
		t.Errorf("checked %d blobs with %d progress calls, want 6 and 6", st.Blobs, calls)
	}
	if st.Packs != 1 {
		t.Errorf("checked %d packs, want 1", st.Packs)
	}
	want := []CorruptBlob{{Digest: badSmall.String()}, {Digest: badLarge.Digest.String()}, {Digest: ds[1].String(), Pack: filepath.Base(pack)}}
	slices.SortFunc(want, func(a, b CorruptBlob) int { return strings.Compare(a.Digest, b.Digest) })
	if !slices.Equal(st.Corrupt, want) {
		t.Errorf("corrupt = %v, want %v", st.Corrupt, want)
	}
	for _, d := range []Digest{badSmall, badLarge.Digest, ds[1]} {
		if s.HasBlob(d) {
			t.Errorf("corrupt blob %s is still in the store", d)
		}
	}
	for _, d := range []Digest{goodSmall, goodLarge.Digest, ds[0]} {
		if _, err := s.ReadBlob(d); err != nil {
			t.Errorf("good blob %s: %v", d, err)
		}
	}
	if s.Epoch() == epoch {
		t.Error("the epoch is unchanged after removing corrupt blobs")
	}
	s.verified = verifiedSet{}
	s.loadVerified()
	if _, ok := s.verified.byBlob[goodLarge.Digest]; !ok || len(s.verified.byBlob) != 1 {
		t.Errorf("verified list after the check: %v, want only the good large blob", s.verified.byBlob)
	}
}

// TestCheckBadPack checks that a pack whose index fails its checksum is
// removed and reported, not counted as checked, and that the store's
// epoch changes.
func TestCheckBadPack(t *testing.T) {
	s := newStore(t)
	packFiles(t, s, "one\n", "two\n")
	name := packNames(t, s)[0]
	damage(t, filepath.Join(s.packsDir(), name), func(b []byte) []byte {
		b[len(b)-5] ^= 0xff
		return b
	})
	s.packs = packSet{}
	epoch := s.Epoch()
	st, err := s.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.BadPacks, []string{name}) {
		t.Errorf("bad packs = %v, want [%s]", st.BadPacks, name)
	}
	if st.Blobs != 0 || len(st.Corrupt) != 0 {
		t.Errorf("checked %d blobs, %d corrupt; want none", st.Blobs, len(st.Corrupt))
	}
	if _, err := os.Stat(filepath.Join(s.packsDir(), name)); !os.IsNotExist(err) {
		t.Errorf("the bad pack is still there: %v", err)
	}
	if s.Epoch() == epoch {
		t.Error("the epoch is unchanged after removing a pack")
	}
}

// TestCheckOddEntries checks entries under blobs/ that are not plain blob
// files: a folder and a symlink at a blob's path are removed as corrupt, a
// file with a digest name in the wrong folder or in uppercase is left
// alone.
func TestCheckOddEntries(t *testing.T) {
	s := newStore(t)
	good, err := s.PutBytes([]byte("good\n"))
	if err != nil {
		t.Fatal(err)
	}
	folder := SumBytes([]byte("a folder"))
	if err := os.MkdirAll(filepath.Join(s.BlobPath(folder), "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := SumBytes([]byte("a symlink"))
	if err := os.MkdirAll(filepath.Dir(s.BlobPath(link)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(s.BlobPath(good), s.BlobPath(link)); err != nil {
		t.Fatal(err)
	}
	stray := SumBytes([]byte("stray"))
	writeFile(t, filepath.Join(s.root, "blobs", "zz", stray.String()), "not it", 0o644)
	writeFile(t, filepath.Join(filepath.Dir(s.BlobPath(stray)), strings.ToUpper(stray.String())), "not it", 0o644)

	st, err := s.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []CorruptBlob{{Digest: folder.String()}, {Digest: link.String()}}
	slices.SortFunc(want, func(a, b CorruptBlob) int { return strings.Compare(a.Digest, b.Digest) })
	if !slices.Equal(st.Corrupt, want) {
		t.Errorf("corrupt = %v, want %v", st.Corrupt, want)
	}
	if st.Blobs != 3 {
		t.Errorf("checked %d blobs, want 3: the good one, the folder and the symlink", st.Blobs)
	}
	for _, d := range []Digest{folder, link} {
		if _, err := os.Lstat(s.BlobPath(d)); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", d, err)
		}
	}
	if _, err := s.ReadBlob(good); err != nil {
		t.Errorf("good blob: %v", err)
	}
}

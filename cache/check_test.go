package cache

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
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
	want := []string{badSmall.String(), badLarge.Digest.String(), ds[1].String()}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(st.Corrupt))
	if !slices.Equal(got, want) {
		t.Errorf("corrupt = %v, want %v", got, want)
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
// reported, not counted as checked.
func TestCheckBadPack(t *testing.T) {
	s := newStore(t)
	packFiles(t, s, "one\n", "two\n")
	name := packNames(t, s)[0]
	damage(t, filepath.Join(s.packsDir(), name), func(b []byte) []byte {
		b[len(b)-5] ^= 0xff
		return b
	})
	s.packs = packSet{}
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
	if _, err := os.Stat(filepath.Join(s.packsDir(), name)); err != nil {
		t.Errorf("the bad pack was removed: %v; gc removes it", err)
	}
}

package cache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// storeLarge stores a file output of size random bytes and returns it with
// its contents.
func storeLarge(t *testing.T, s *Store, size int, seed uint64) (Output, []byte) {
	t.Helper()
	data := randomBytes(size, seed)
	src := filepath.Join(t.TempDir(), "model.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := s.StoreOutput("model", "model.bin", src, newIndex(t))
	if err != nil {
		t.Fatal(err)
	}
	return o, data
}

// ageVerified rewrites the store's records of verified blobs as if each
// had been written racyMargin later, and makes the store read them again.
func ageVerified(t *testing.T, s *Store) {
	t.Helper()
	path := filepath.Join(s.root, verifiedFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for ; len(data) >= verifiedRecordSize; data = data[verifiedRecordSize:] {
		d, r, ok := decodeVerified(data[:verifiedRecordSize])
		if !ok {
			t.Fatal("a record of a verified blob fails its checksum")
		}
		r.recorded += int64(racyMargin)
		out = append(out, encodeVerified(d, r)...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	s.verified = verifiedSet{}
}

// trustsBlob reports whether s trusts the loose blob d as it is now.
func trustsBlob(t *testing.T, s *Store, d Digest) bool {
	t.Helper()
	fi, err := os.Stat(s.BlobPath(d))
	if err != nil {
		t.Fatal(err)
	}
	return s.trusts(d, fi)
}

func countVerified(t *testing.T, s *Store) int {
	t.Helper()
	fi, err := os.Stat(filepath.Join(s.root, verifiedFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size()) / verifiedRecordSize
}

// TestRestoreTrustsVerifiedBlob checks that a restore records the large
// blob it hashed, that a record is trusted only once it is older than the
// blob's last change by racyMargin, and that a trusted restore copies the
// blob whole.
func TestRestoreTrustsVerifiedBlob(t *testing.T) {
	s := newStore(t)
	o, data := storeLarge(t, s, trustMinSize+1, 1)
	dest := filepath.Join(t.TempDir(), "model.bin")

	if err := s.Restore(o, dest); err != nil {
		t.Fatal(err)
	}
	if n := countVerified(t, s); n != 1 {
		t.Fatalf("%d records after the first restore, want 1", n)
	}
	if trustsBlob(t, s, o.Digest) {
		t.Error("a record written right after the blob changed is trusted")
	}

	ageVerified(t, s)
	if !trustsBlob(t, s, o.Digest) {
		t.Fatal("an old record of an unchanged blob is not trusted")
	}
	if err := os.Remove(dest); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(o, dest); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("a trusted restore wrote other contents than the blob's")
	}
	if n := countVerified(t, s); n != 1 {
		t.Errorf("%d records after a trusted restore, want still 1", n)
	}
}

// TestRestoreDamagedAfterVerify checks that a blob changed after a restore
// verified it is hashed again, found corrupt and removed, even when its
// old modification time is put back.
func TestRestoreDamagedAfterVerify(t *testing.T) {
	tests := []struct {
		name      string
		edit      func([]byte) []byte
		keepMtime bool
	}{
		{"byte changed", flipFirstByte, false},
		{"truncated", truncateHalf, false},
		{"byte changed, mtime put back", flipFirstByte, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			o, _ := storeLarge(t, s, trustMinSize+4096, 2)
			dest := filepath.Join(t.TempDir(), "model.bin")
			if err := s.Restore(o, dest); err != nil {
				t.Fatal(err)
			}
			ageVerified(t, s)

			blob := s.BlobPath(o.Digest)
			before, err := os.Stat(blob)
			if err != nil {
				t.Fatal(err)
			}
			damage(t, blob, tt.edit)
			if tt.keepMtime {
				if err := os.Chtimes(blob, before.ModTime(), before.ModTime()); err != nil {
					t.Fatal(err)
				}
			}
			err = s.Restore(o, dest)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("restore of a blob damaged after it was verified: error %v, want a *CorruptError", err)
			}
			if s.HasBlob(o.Digest) {
				t.Error("damaged blob still in the store")
			}
		})
	}
}

// TestVerifiedRecords checks what the list of verified blobs keeps: small
// blobs are not recorded, a torn record is skipped, and garbage collection
// drops the records of removed blobs and repeated ones.
func TestVerifiedRecords(t *testing.T) {
	s := newStore(t)
	small, _ := storeLarge(t, s, trustMinSize-1, 3)
	a, _ := storeLarge(t, s, trustMinSize+1, 4)
	b, _ := storeLarge(t, s, 2*trustMinSize, 5)
	dest := filepath.Join(t.TempDir(), "model.bin")
	for _, o := range []Output{small, a, b, a} {
		if err := s.Restore(o, dest); err != nil {
			t.Fatal(err)
		}
	}
	if n := countVerified(t, s); n != 3 {
		t.Fatalf("%d records, want 3: none for the small blob and two for a", n)
	}

	ageVerified(t, s)
	f, err := os.OpenFile(filepath.Join(s.root, verifiedFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := encodeVerified(small.Digest, verifiedRecord{stat: blobStat{size: 1}})
	if _, err := f.Write(torn[:verifiedRecordSize/2]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s.verified = verifiedSet{}
	if !trustsBlob(t, s, a.Digest) || !trustsBlob(t, s, b.Digest) {
		t.Error("a torn record at the end hides the records before it")
	}

	remove(t, s.BlobPath(b.Digest))
	if err := s.compactVerified(); err != nil {
		t.Fatal(err)
	}
	if n := countVerified(t, s); n != 1 {
		t.Errorf("%d records after compacting, want 1, for a", n)
	}
	s.verified = verifiedSet{}
	if !trustsBlob(t, s, a.Digest) {
		t.Error("the record of a is lost by compacting")
	}
}

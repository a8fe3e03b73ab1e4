package cache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
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

// sameBytes reports whether the file at path holds exactly data.
func sameBytes(t *testing.T, path string, data []byte) bool {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(got, data)
}

// appendFile appends b to the file at path.
func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
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
	if !sameBytes(t, dest, data) {
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
	torn := encodeVerified(small.Digest, verifiedRecord{stat: blobStat{size: 1}})
	appendFile(t, filepath.Join(s.root, verifiedFile), torn[:verifiedRecordSize/2])
	s.verified = verifiedSet{}
	if !trustsBlob(t, s, a.Digest) || !trustsBlob(t, s, b.Digest) {
		t.Error("a torn record at the end hides the records before it")
	}

	// A record appended after the torn one still counts.
	fi, err := os.Stat(s.BlobPath(b.Digest))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := statOfBlob(fi)
	later := verifiedRecord{stat: st, recorded: st.ctime + 2*int64(racyMargin)}
	appendFile(t, filepath.Join(s.root, verifiedFile), encodeVerified(b.Digest, later))
	s.verified = verifiedSet{}
	s.loadVerified()
	if got := s.verified.byBlob[b.Digest]; got != later {
		t.Errorf("record after a torn one = %+v, want %+v", got, later)
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

// openBlobForWriting makes the loose blob d writable and opens it for
// reading and writing until the test ends.
func openBlobForWriting(t *testing.T, s *Store, d Digest) *os.File {
	t.Helper()
	blob := s.BlobPath(d)
	chmod(t, blob, 0o644)
	f, err := os.OpenFile(blob, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestRestoreBlobOpenForWriting checks the writes that leave a blob's
// stat data as it was: a write through a shared mapping whose page is
// already dirty. A blob open for writing is never recorded as verified,
// and its restore hashes the copy it made, so the changed byte is found.
func TestRestoreBlobOpenForWriting(t *testing.T) {
	s := newStore(t)
	o, _ := storeLarge(t, s, trustMinSize+1, 6)
	f := openBlobForWriting(t, s, o.Digest)
	m, err := unix.Mmap(int(f.Fd()), 0, int(o.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	first := m[0]
	m[0] = first ^ 0xff // the first write fault sets the change time
	m[0] = first

	dest := filepath.Join(t.TempDir(), "model.bin")
	if err := s.Restore(o, dest); err != nil {
		t.Fatal(err)
	}
	if n := countVerified(t, s); n != 0 {
		t.Fatalf("%d records of a blob open for writing, want 0", n)
	}

	m[0] ^= 0xff // the same dirty page: no new fault, no new change time
	err = s.Restore(o, dest)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("restore of a blob changed through a mapping: error %v, want a *CorruptError", err)
	}
}

// TestRestoreWhileBlobWritten restores a blob again and again while
// another goroutine flips one of its bytes with pwrite(2). Every restore
// that succeeds must have put the blob's true contents in place.
func TestRestoreWhileBlobWritten(t *testing.T) {
	s := newStore(t)
	o, data := storeLarge(t, s, 4*trustMinSize, 7)
	f := openBlobForWriting(t, s, o.Digest)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := []byte{data[len(data)/2]}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b[0] ^= 0xff
			_, _ = f.WriteAt(b, int64(len(data)/2))
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()

	dest := filepath.Join(t.TempDir(), "model.bin")
	for range 20 {
		err := s.Restore(o, dest)
		if IsMiss(err) {
			return // found corrupt and removed: the end of this blob
		}
		if err != nil {
			t.Fatal(err)
		}
		if !sameBytes(t, dest, data) {
			t.Fatal("a restore reported success with other contents than the blob's")
		}
	}
}

// TestCompactVerifiedOverFolder checks that garbage collection replaces a
// folder that took the list's name.
func TestCompactVerifiedOverFolder(t *testing.T) {
	s := newStore(t)
	if err := os.MkdirAll(filepath.Join(s.root, verifiedFile, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.compactVerified(); err != nil {
		t.Fatalf("compactVerified over a folder: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(s.root, verifiedFile)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s after compacting: %v, %v; want a regular file", verifiedFile, fi, err)
	}
}

// TestRestoreBlobNotRegular checks that a blob path that leads to a
// device is a corrupt blob, removed, and not read.
func TestRestoreBlobNotRegular(t *testing.T) {
	s := newStore(t)
	o, _ := storeLarge(t, s, trustMinSize+1, 10)
	blob := s.BlobPath(o.Digest)
	remove(t, blob)
	if err := os.Symlink("/dev/zero", blob); err != nil {
		t.Fatal(err)
	}
	err := s.Restore(o, filepath.Join(t.TempDir(), "model.bin"))
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("restore from a symlink to /dev/zero: error %v, want a *CorruptError", err)
	}
	if _, err := os.Lstat(blob); !os.IsNotExist(err) {
		t.Errorf("the symlink is still there: %v", err)
	}
}

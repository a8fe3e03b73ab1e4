package cache

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestStorePutBytes(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"text", []byte("hello\n")},
		{"large", randomBytes(hashBufferSize+1234, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			d, err := s.PutBytes(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if want := SumBytes(tt.data); d != want {
				t.Errorf("PutBytes digest = %s, want %s", d, want)
			}
			if !s.HasBlob(d) {
				t.Error("HasBlob = false after PutBytes")
			}
			got, err := s.ReadBlob(d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Errorf("ReadBlob returned %d bytes, want the %d stored", len(got), len(tt.data))
			}
			fi, err := os.Stat(s.BlobPath(d))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o444 {
				t.Errorf("blob mode = %v, want read-only 0444", fi.Mode().Perm())
			}

			// A second put of the same bytes is a no-op that succeeds.
			if d2, err := s.PutBytes(tt.data); err != nil || d2 != d {
				t.Errorf("second PutBytes = %s, %v; want %s, nil", d2, err, d)
			}
			if left := dirNames(t, filepath.Join(s.Root(), "tmp")); len(left) != 0 {
				t.Errorf("temp files left behind: %v", left)
			}
		})
	}
}

func TestStorePutFile(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"text", []byte("a,b\n1,2\n")},
		{"over buffer", randomBytes(2*hashBufferSize+7, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			src := filepath.Join(t.TempDir(), "src")
			writeFile(t, src, string(tt.data), 0o644)
			d, n, err := s.PutFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if want := SumBytes(tt.data); d != want {
				t.Errorf("PutFile digest = %s, want %s", d, want)
			}
			if n != int64(len(tt.data)) {
				t.Errorf("PutFile size = %d, want %d", n, len(tt.data))
			}
			got, err := s.ReadBlob(d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Errorf("ReadBlob returned %d bytes, want the %d stored", len(got), len(tt.data))
			}

			// The blob is a copy: rewriting the source in place leaves it.
			if err := os.WriteFile(src, []byte("rewritten"), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err = s.ReadBlob(d)
			if err != nil {
				t.Fatalf("ReadBlob after the source changed: %v", err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Error("blob changed with its source file")
			}
		})
	}
}

func TestStorePutFileMissing(t *testing.T) {
	s := newStore(t)
	_, _, err := s.PutFile(filepath.Join(t.TempDir(), "absent"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PutFile of a missing file: error %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestStoreMissingBlob(t *testing.T) {
	s := newStore(t)
	d := SumBytes([]byte("never stored"))
	if s.HasBlob(d) {
		t.Error("HasBlob = true for a blob never stored")
	}
	if _, err := s.ReadBlob(d); !errors.Is(err, ErrNotFound) || !IsMiss(err) {
		t.Errorf("ReadBlob: error %v, want ErrNotFound", err)
	}
	if _, err := s.OpenBlob(d); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenBlob: error %v, want ErrNotFound", err)
	}
}

func TestStoreCorruptBlob(t *testing.T) {
	tests := []struct {
		name string
		edit func([]byte) []byte
	}{
		{"byte changed", flipFirstByte},
		{"truncated", truncateHalf},
		{"emptied", func([]byte) []byte { return nil }},
		{"extended", func(b []byte) []byte { return append(b, '!') }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			d, err := s.PutBytes([]byte("model weights"))
			if err != nil {
				t.Fatal(err)
			}
			damage(t, s.BlobPath(d), tt.edit)

			_, err = s.ReadBlob(d)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("ReadBlob of a damaged blob: error %v, want *CorruptError", err)
			}
			if ce.Name != d.String() {
				t.Errorf("CorruptError names %s, want %s", ce.Name, d)
			}
			if !IsMiss(err) {
				t.Error("IsMiss(CorruptError) = false")
			}

			// The damaged blob is gone, so the next build stores a good one.
			if s.HasBlob(d) {
				t.Error("damaged blob still in the store")
			}
			if _, err := s.ReadBlob(d); !errors.Is(err, ErrNotFound) {
				t.Errorf("second ReadBlob: error %v, want ErrNotFound", err)
			}
			if d2, err := s.PutBytes([]byte("model weights")); err != nil || d2 != d {
				t.Fatalf("PutBytes after removal = %s, %v", d2, err)
			}
			if _, err := s.ReadBlob(d); err != nil {
				t.Errorf("ReadBlob after a fresh put: %v", err)
			}
		})
	}
}

// Many goroutines storing the same bytes, from one file and from separate
// copies, must all get the digest and leave one intact blob.
func TestStorePutFileConcurrent(t *testing.T) {
	s := newStore(t)
	data := randomBytes(256<<10, 3)
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	writeFile(t, shared, string(data), 0o644)
	const workers = 32
	paths := make([]string, workers)
	for i := range paths {
		paths[i] = shared
		if i%2 == 1 {
			paths[i] = filepath.Join(dir, fmt.Sprintf("copy%d", i))
			writeFile(t, paths[i], string(data), 0o644)
		}
	}

	want := SumBytes(data)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i, p := range paths {
		wg.Go(func() {
			d, n, err := s.PutFile(p)
			switch {
			case err != nil:
				errs[i] = err
			case d != want || n != int64(len(data)):
				errs[i] = fmt.Errorf("got %s (%d bytes), want %s (%d bytes)", d, n, want, len(data))
			default:
				_, errs[i] = s.ReadBlob(d)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	got, err := s.ReadBlob(want)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadBlob after concurrent puts: %d bytes, %v", len(got), err)
	}
	if left := dirNames(t, filepath.Join(s.Root(), "tmp")); len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}
	if blobs := dirNames(t, filepath.Dir(s.BlobPath(want))); len(blobs) != 1 {
		t.Errorf("blob folder holds %v, want one blob", blobs)
	}
}

// Sync flushes a few fresh entries one by one and many with one syncfs,
// and clears its count of them either way.
func TestSyncFreshEntries(t *testing.T) {
	tests := []struct {
		name    string
		entries int
		many    bool
	}{
		{"none", 0, false},
		{"a few", 3, false},
		{"at the limit", syncOneByOne, false},
		{"more", syncOneByOne + 1, true},
		{"announced", -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if tt.entries < 0 {
				s.ExpectManyWrites()
				tt.entries = 3
			}
			for i := range tt.entries {
				if _, err := s.PutBytes([]byte(fmt.Sprintf("entry %d", i))); err != nil {
					t.Fatal(err)
				}
			}
			s.freshMu.Lock()
			fresh, many := s.fresh, s.many
			s.freshMu.Unlock()
			if many != tt.many || !many && fresh != tt.entries {
				t.Errorf("before Sync: %d fresh entries, many = %v; want %d, %v", fresh, many, tt.entries, tt.many)
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if s.fresh != 0 || s.many || s.written.Load() {
				t.Errorf("after Sync: %d fresh entries, many = %v, written = %v; want none", s.fresh, s.many, s.written.Load())
			}
		})
	}
}

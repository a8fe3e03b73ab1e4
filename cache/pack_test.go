package cache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// packFiles writes one file per content into a temp folder, packs them
// all with one writer and commits. It returns the digests in order.
func packFiles(t *testing.T, s *Store, contents ...string) []Digest {
	t.Helper()
	dir := t.TempDir()
	w := s.NewPackWriter()
	var ds []Digest
	for i, c := range contents {
		path := filepath.Join(dir, fmt.Sprint(i))
		writeFile(t, path, c, 0o644)
		d := SumBytes([]byte(c))
		size, err := w.PutSmallFile(path, d)
		if err != nil {
			t.Fatalf("PutSmallFile %q: %v", c, err)
		}
		if size != int64(len(c)) {
			t.Fatalf("PutSmallFile %q: size %d, want %d", c, size, len(c))
		}
		ds = append(ds, d)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return ds
}

// packNames lists the pack files of s.
func packNames(t *testing.T, s *Store) []string {
	t.Helper()
	return dirNames(t, s.packsDir())
}

func TestPackRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	contents := []string{"first source\n", "", "second source\n", "first source\n"}
	ds := packFiles(t, s, contents...)
	if got := packNames(t, s); len(got) != 1 {
		t.Fatalf("packs after one commit: %v, want one", got)
	}

	// A second store on the folder finds the packed blobs, and none is loose.
	other, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		if _, err := os.Stat(other.BlobPath(d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("blob %d is loose as well as packed (stat: %v)", i, err)
		}
		size, ok := other.BlobSize(d)
		if !ok || size != int64(len(contents[i])) {
			t.Errorf("BlobSize(%d) = %d, %v; want %d, true", i, size, ok, len(contents[i]))
		}
		data, err := other.ReadBlob(d)
		if err != nil || string(data) != contents[i] {
			t.Errorf("ReadBlob(%d) = %q, %v; want %q", i, data, err, contents[i])
		}
		r, n, err := other.OpenBlobReader(d)
		if err != nil {
			t.Fatalf("OpenBlobReader(%d): %v", i, err)
		}
		data, _ = io.ReadAll(r)
		r.Close()
		if string(data) != contents[i] || n != int64(len(contents[i])) {
			t.Errorf("OpenBlobReader(%d) read %q of size %d, want %q", i, data, n, contents[i])
		}

		// A packed blob restores like a loose one.
		out := filepath.Join(t.TempDir(), "restored")
		o := Output{Name: "x", Path: "x", Kind: KindFile, Perm: 0o640, Digest: d, Size: int64(len(contents[i]))}
		if err := other.Restore(o, out); err != nil {
			t.Fatalf("Restore(%d): %v", i, err)
		}
		if got := readFile(t, out); got != contents[i] {
			t.Errorf("Restore(%d) wrote %q, want %q", i, got, contents[i])
		}
		if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o640 {
			t.Errorf("Restore(%d) mode %v, want 0640", i, fi.Mode().Perm())
		}
	}
}

func TestPackWriterPutSmallFile(t *testing.T) {
	large := strings.Repeat("0123456789abcdef", PackBlobMax/16+1)
	tests := []struct {
		name       string
		content    string
		want       Digest
		wantErr    string
		wantLoose  bool
		wantPacked bool
	}{
		{name: "small", content: "a few bytes\n", want: SumBytes([]byte("a few bytes\n")), wantPacked: true},
		{name: "larger than a pack takes", content: large, want: SumBytes([]byte(large)), wantLoose: true},
		{name: "changed since hashed", content: "new\n", want: SumBytes([]byte("old\n")), wantErr: "changed after it was hashed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			path := filepath.Join(t.TempDir(), "src")
			writeFile(t, path, tt.content, 0o644)
			w := s.NewPackWriter()
			_, err := w.PutSmallFile(path, tt.want)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(s.BlobPath(tt.want))
			if loose := statErr == nil; loose != tt.wantLoose {
				t.Errorf("loose = %v, want %v", loose, tt.wantLoose)
			}
			_, packed := s.packed(tt.want)
			if packed != tt.wantPacked {
				t.Errorf("packed = %v, want %v", packed, tt.wantPacked)
			}
		})
	}
}

func TestPackUncommitted(t *testing.T) {
	s := newStore(t)
	path := filepath.Join(t.TempDir(), "src")
	writeFile(t, path, "not yet\n", 0o644)
	d := SumBytes([]byte("not yet\n"))
	w := s.NewPackWriter()
	if _, err := w.PutSmallFile(path, d); err != nil {
		t.Fatal(err)
	}
	if s.HasBlob(d) {
		t.Error("a blob is readable before its pack is committed")
	}
	w.Abort()
	if left, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(left) != 0 {
		t.Errorf("Abort left %d temp files", len(left))
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if s.HasBlob(d) || len(packNames(t, s)) != 0 {
		t.Error("Commit after Abort wrote the dropped blob")
	}
}

func TestPackRollsOver(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	w := s.NewPackWriter()
	w.maxSize = 16 // less than the magic and one blob
	var ds []Digest
	for i := range 10 {
		c := fmt.Sprintf("source number %d, long enough to fill a pack\n", i)
		path := filepath.Join(dir, fmt.Sprint(i))
		writeFile(t, path, c, 0o644)
		d := SumBytes([]byte(c))
		if _, err := w.PutSmallFile(path, d); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := len(packNames(t, s)); n != 10 {
		t.Errorf("%d packs, want 10 of one blob each", n)
	}
	for i, d := range ds {
		if !s.HasBlob(d) {
			t.Errorf("blob %d missing", i)
		}
	}
}

func TestPackConcurrentPuts(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	w := s.NewPackWriter()
	var wg sync.WaitGroup
	ds := make([]Digest, 200)
	for i := range ds {
		c := fmt.Sprintf("file %d\n", i%150) // some contents twice
		path := filepath.Join(dir, fmt.Sprint(i))
		writeFile(t, path, c, 0o644)
		ds[i] = SumBytes([]byte(c))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.PutSmallFile(path, ds[i]); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}

	pf, err := openPack(filepath.Join(s.packsDir(), packNames(t, s)[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(pf.entries) != 150 {
		t.Errorf("pack holds %d blobs, want the 150 distinct ones", len(pf.entries))
	}
	for i, d := range ds {
		if data, err := s.ReadBlob(d); err != nil || string(data) != fmt.Sprintf("file %d\n", i%150) {
			t.Errorf("blob %d: %q, %v", i, data, err)
		}
	}
}

func TestPackCorruptBlob(t *testing.T) {
	s := newStore(t)
	ds := packFiles(t, s, "keep me\n", "damage me\n", "keep me too\n")
	pack := filepath.Join(s.packsDir(), packNames(t, s)[0])
	damage(t, pack, func(b []byte) []byte {
		i := bytes.Index(b, []byte("damage me"))
		b[i] ^= 0xff
		return b
	})

	_, err := s.ReadBlob(ds[1])
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("ReadBlob of a damaged packed blob: %v, want a CorruptError", err)
	}
	if s.HasBlob(ds[1]) {
		t.Error("the damaged blob is still found, so the next build would not store it again")
	}
	for _, i := range []int{0, 2} {
		if _, err := s.ReadBlob(ds[i]); err != nil {
			t.Errorf("blob %d, next to the damaged one, was lost: %v", i, err)
		}
	}
	if names := packNames(t, s); len(names) != 1 || names[0] == filepath.Base(pack) {
		t.Errorf("packs after the repair: %v, want one new pack", names)
	}
}

func TestPackDamagedIndex(t *testing.T) {
	tests := []struct {
		name string
		edit func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }},
		{"index byte flipped", func(b []byte) []byte { b[len(b)-packTrailerSize-5] ^= 1; return b }},
		{"trailer magic", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }},
		{"count too large", func(b []byte) []byte { b[len(b)-packTrailerSize+8] = 0xff; return b }},
		{"empty file", func([]byte) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			s, err := OpenStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			ds := packFiles(t, s, "one\n", "two\n")
			damage(t, filepath.Join(s.packsDir(), packNames(t, s)[0]), tt.edit)

			other, err := OpenStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if other.HasBlob(d) {
					t.Errorf("blob %s of a damaged pack is found", d)
				}
				if _, err := other.ReadBlob(d); !errors.Is(err, ErrNotFound) {
					t.Errorf("ReadBlob: %v, want ErrNotFound", err)
				}
			}
			st, err := other.Collect(NewLive(), false)
			if err != nil {
				t.Fatal(err)
			}
			if st.TempFiles != 1 || len(packNames(t, other)) != 0 {
				t.Errorf("gc removed %d leftovers, packs left %v; want the damaged pack gone", st.TempFiles, packNames(t, other))
			}
		})
	}
}

func TestCollectPacks(t *testing.T) {
	contents := []string{"alpha\n", "beta\n", "gamma\n"}
	tests := []struct {
		name      string
		live      []int
		dryRun    bool
		wantGone  int
		wantPacks int
		samePack  bool
	}{
		{name: "all live", live: []int{0, 1, 2}, wantPacks: 1, samePack: true},
		{name: "some live", live: []int{0}, wantGone: 2, wantPacks: 1},
		{name: "none live", wantGone: 3},
		{name: "dry run", live: []int{0}, dryRun: true, wantGone: 2, wantPacks: 1, samePack: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			ds := packFiles(t, s, contents...)
			before := packNames(t, s)[0]
			live := NewLive()
			isLive := map[int]bool{}
			for _, i := range tt.live {
				live.Blobs[ds[i]] = true
				isLive[i] = true
			}
			st, err := s.Collect(live, tt.dryRun)
			if err != nil {
				t.Fatal(err)
			}
			if st.Blobs != tt.wantGone {
				t.Errorf("Collect counted %d blobs, want %d", st.Blobs, tt.wantGone)
			}
			names := packNames(t, s)
			if len(names) != tt.wantPacks {
				t.Fatalf("packs left: %v, want %d", names, tt.wantPacks)
			}
			if tt.wantPacks == 1 && (names[0] == before) != tt.samePack {
				t.Errorf("pack %s after gc, was %s; want same = %v", names[0], before, tt.samePack)
			}
			for i, d := range ds {
				want := isLive[i] || tt.dryRun
				if got := s.HasBlob(d); got != want {
					t.Errorf("blob %d present = %v, want %v", i, got, want)
				}
			}
		})
	}
}

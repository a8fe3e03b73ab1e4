package cache

import (
	"context"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
)

// CheckStats is the result of Store.Check.
type CheckStats struct {
	Blobs int   `json:"blobs"` // blobs hashed, loose and packed
	Bytes int64 `json:"bytes"`
	Packs int   `json:"packs"`
	// Corrupt lists the blobs that did not hash to their names, sorted by
	// digest. Check removed them, so the next build stores good copies.
	Corrupt []CorruptBlob `json:"corrupt"`
	// BadPacks lists the packs whose index failed its checksum. They held
	// nothing a build could find, and Check removed them.
	BadPacks []string `json:"bad_packs"`
	// Failed lists what could not be checked or removed, with the error.
	Failed []string `json:"failed"`
}

// CorruptBlob is a blob that Check found corrupt and removed.
type CorruptBlob struct {
	Digest string `json:"digest"`
	Pack   string `json:"pack,omitempty"` // the pack it was in; empty for a loose blob
}

// CheckProgress is called as Check goes, with the blobs and bytes hashed
// so far and the totals.
type CheckProgress func(blobs, totalBlobs int, bytes, totalBytes int64)

// Check hashes every blob in the store, loose and packed, and removes
// each one that does not hash to its name, as a restore that found it
// would, and each pack whose index is damaged. A blob it cannot read is
// listed in Failed and the check goes on. It starts the list of verified
// blobs anew, with the large loose blobs it hashed under a read lease, so
// restores trust nothing it did not hash. When ctx is cancelled it stops
// between two blobs and returns what it did so far with the error. Any
// removal changes the store's epoch, so that builds check again what
// they stored. The caller holds LockExclusive.
func (s *Store) Check(ctx context.Context, progress CheckProgress) (CheckStats, error) {
	st := CheckStats{Corrupt: []CorruptBlob{}, BadPacks: []string{}, Failed: []string{}}
	epochChanged := false
	removed := func() error {
		if epochChanged {
			return nil
		}
		epochChanged = true
		return s.newEpoch()
	}
	defer func() {
		sort.Slice(st.Corrupt, func(i, j int) bool { return st.Corrupt[i].Digest < st.Corrupt[j].Digest })
	}()

	loose, err := s.looseBlobs()
	if err != nil {
		return st, err
	}
	packs := s.listPacks()
	totalBlobs, totalBytes := len(loose), int64(0)
	for _, b := range loose {
		totalBytes += b.size
	}
	for _, pf := range packs {
		totalBlobs += len(pf.entries)
		for _, e := range pf.entries {
			totalBytes += e.size
		}
	}
	report := func(size int64) {
		st.Blobs++
		st.Bytes += size
		if progress != nil {
			progress(st.Blobs, totalBlobs, st.Bytes, totalBytes)
		}
	}

	if err := s.forgetVerified(); err != nil {
		return st, err
	}
	for _, b := range loose {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		ok, err := s.checkLoose(b)
		switch {
		case err != nil:
			st.Failed = append(st.Failed, fmt.Sprintf("blob %s: %v", b.digest, err))
		case !ok:
			st.Corrupt = append(st.Corrupt, CorruptBlob{Digest: b.digest.String()})
			if err := removed(); err != nil {
				return st, err
			}
		}
		report(b.size)
	}
	for _, pf := range packs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Packs++
		bad, err := checkPack(pf, report)
		if err != nil {
			st.Failed = append(st.Failed, fmt.Sprintf("pack %s: %v", pf.name, err))
			continue
		}
		if len(bad) == 0 {
			continue
		}
		if _, _, err := s.rewritePack(pf, func(d Digest) bool { return !bad[d] }, false); err != nil {
			st.Failed = append(st.Failed, fmt.Sprintf("pack %s: %v", pf.name, err))
			continue
		}
		for d := range bad {
			st.Corrupt = append(st.Corrupt, CorruptBlob{Digest: d.String(), Pack: pf.name})
		}
		if err := removed(); err != nil {
			return st, err
		}
	}
	for _, name := range s.unreadablePacks() {
		if err := os.Remove(filepath.Join(s.packsDir(), name)); err != nil {
			st.Failed = append(st.Failed, fmt.Sprintf("pack %s: damaged index, and it could not be removed: %v", name, err))
			continue
		}
		st.BadPacks = append(st.BadPacks, name)
		if err := removed(); err != nil {
			return st, err
		}
	}
	return st, nil
}

// looseBlob is an entry under blobs/ with a blob's name, found by
// looseBlobs.
type looseBlob struct {
	digest  Digest
	size    int64
	regular bool // a regular file, not a folder, symlink or device
}

// looseBlobs lists the entries under blobs/ at a blob's path: named by a
// digest in lowercase hex, in the folder of its first two digits. Other
// names are left out, since no read looks for them.
func (s *Store) looseBlobs() ([]looseBlob, error) {
	var out []looseBlob
	root := filepath.Join(s.root, "blobs")
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		var d Digest
		if n, err := hex.Decode(d[:], []byte(de.Name())); err != nil || n != len(d) || p != s.BlobPath(d) {
			return nil
		}
		b := looseBlob{digest: d, regular: de.Type().IsRegular()}
		if fi, err := de.Info(); err == nil && b.regular {
			b.size = fi.Size()
		}
		out = append(out, b)
		if de.IsDir() {
			return fs.SkipDir
		}
		return nil
	})
	return out, err
}

// checkLoose hashes the loose blob b and reports whether it matches its
// name. One that does not, or that is not a regular file, is removed. One
// that matches, and that nothing had open for writing, goes on the list of
// verified blobs.
func (s *Store) checkLoose(b looseBlob) (bool, error) {
	path := s.BlobPath(b.digest)
	if !b.regular {
		if err := os.RemoveAll(path); err != nil {
			return false, fmt.Errorf("not a regular file, and it could not be removed: %w", err)
		}
		return false, nil
	}

	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return true, nil // removed since it was listed
		}
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	lease := takeReadLease(f)
	defer lease.release()
	got, _, err := hashOpenFile(f, fi.Size(), runtime.GOMAXPROCS(0))
	if err != nil {
		return false, err
	}

	if got != b.digest {
		if err := os.Remove(path); err != nil {
			return false, fmt.Errorf("corrupt, and it could not be removed: %w", err)
		}
		return false, nil
	}
	if lease.held() && unchangedSince(f, fi) {
		s.noteVerified(b.digest, fi)
	}
	return true, nil
}

// checkPack hashes every blob of the pack pf, calling report with the
// size of each, and returns the digests of those that fail.
func checkPack(pf *packFile, report func(int64)) (map[Digest]bool, error) {
	f, err := os.Open(pf.path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil // removed since it was listed
		}
		return nil, err
	}
	defer f.Close()
	bad := map[Digest]bool{}
	var buf []byte
	for _, e := range pf.entries {
		if int64(cap(buf)) < e.size {
			buf = make([]byte, e.size)
		}
		data := buf[:e.size]
		if _, err := f.ReadAt(data, e.off); err != nil || SumBytes(data) != e.digest {
			bad[e.digest] = true
		}
		report(e.size)
	}
	return bad, nil
}

// unreadablePacks lists the regular files in the packs folder whose
// index cannot be read.
func (s *Store) unreadablePacks() []string {
	out := []string{}
	entries, _ := os.ReadDir(s.packsDir())
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if _, err := openPack(filepath.Join(s.packsDir(), e.Name())); err != nil {
			out = append(out, e.Name())
		}
	}
	return out
}

package cache

import (
	"context"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// CheckStats is the result of Store.Check.
type CheckStats struct {
	Blobs int   `json:"blobs"` // blobs hashed, loose and packed
	Bytes int64 `json:"bytes"`
	Packs int   `json:"packs"`
	// Corrupt lists the digests of the blobs that did not hash to their
	// names. Check removed them, so the next build stores good copies.
	Corrupt []string `json:"corrupt"`
	// BadPacks lists the packs whose index fails its checksum. They hold
	// nothing a build can find, and mlb gc removes them.
	BadPacks []string `json:"bad_packs"`
}

// CheckProgress is called as Check goes, with the blobs and bytes hashed
// so far and the totals.
type CheckProgress func(blobs, totalBlobs int, bytes, totalBytes int64)

// Check hashes every blob in the store, loose and packed, and removes
// each one that does not hash to its name, as a restore that found it
// would. It starts the list of verified blobs anew, with the large loose
// blobs it hashed under a read lease, so restores trust nothing it did
// not hash. When ctx is cancelled it stops between two blobs, with what
// it removed so far removed. The caller holds LockExclusive.
func (s *Store) Check(ctx context.Context, progress CheckProgress) (CheckStats, error) {
	st := CheckStats{Corrupt: []string{}, BadPacks: []string{}}
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
		ok, err := s.checkLoose(b.digest)
		if err != nil {
			return st, err
		}
		if !ok {
			st.Corrupt = append(st.Corrupt, b.digest.String())
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
			return st, err
		}
		if len(bad) > 0 {
			if _, _, err := s.rewritePack(pf, func(d Digest) bool { return !bad[d] }, false); err != nil {
				return st, err
			}
			for d := range bad {
				st.Corrupt = append(st.Corrupt, d.String())
			}
		}
	}
	st.BadPacks = s.unreadablePacks()
	if len(st.Corrupt) > 0 {
		if err := s.newEpoch(); err != nil {
			return st, err
		}
	}
	return st, nil
}

// looseBlob is a loose blob file found by looseBlobs.
type looseBlob struct {
	digest Digest
	size   int64
}

// looseBlobs lists the loose blob files, by the digest of their names.
// Files whose names are no digest are left out: no read looks for them.
func (s *Store) looseBlobs() ([]looseBlob, error) {
	var out []looseBlob
	err := filepath.WalkDir(filepath.Join(s.root, "blobs"), func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		var d Digest
		if n, err := hex.Decode(d[:], []byte(de.Name())); err != nil || n != len(d) {
			return nil
		}
		fi, err := de.Info()
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		out = append(out, looseBlob{digest: d, size: fi.Size()})
		return nil
	})
	return out, err
}

// checkLoose hashes the loose blob d and reports whether it matches its
// name. A blob that does not is removed; one that does, and that nothing
// had open for writing, goes on the list of verified blobs.
func (s *Store) checkLoose(d Digest) (bool, error) {
	f, err := os.Open(s.BlobPath(d))
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
	if got != d {
		_ = os.Remove(s.BlobPath(d))
		return false, nil
	}
	if lease.held() && unchangedSince(f, fi) {
		s.noteVerified(d, fi)
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

// unreadablePacks lists the files in the packs folder whose index cannot
// be read.
func (s *Store) unreadablePacks() []string {
	out := []string{}
	entries, _ := os.ReadDir(s.packsDir())
	for _, e := range entries {
		if _, err := openPack(filepath.Join(s.packsDir(), e.Name())); err != nil {
			out = append(out, e.Name())
		}
	}
	return out
}

package cache

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Live is the set of entries garbage collection must keep.
type Live struct {
	Blobs   map[Digest]bool
	Actions map[ActionKey]bool
}

// NewLive returns an empty set.
func NewLive() *Live {
	return &Live{Blobs: map[Digest]bool{}, Actions: map[ActionKey]bool{}}
}

// AddOutputs marks outputs live, with every file listed in a directory's
// tree. A tree that cannot be read keeps only its own blob.
func (l *Live) AddOutputs(s *Store, outputs []Output) {
	for _, o := range outputs {
		l.Blobs[o.Digest] = true
		if o.Kind != KindDir {
			continue
		}
		data, err := s.ReadBlob(o.Digest)
		if err != nil {
			continue
		}
		t, err := DecodeTree(data)
		if err != nil {
			continue
		}
		for _, e := range t.Entries {
			if e.Kind == KindFile {
				l.Blobs[e.Digest] = true
			}
		}
	}
}

// GCStats counts what a collection removed, or would remove.
type GCStats struct {
	Blobs     int   `json:"blobs"`
	BlobBytes int64 `json:"blob_bytes"`
	Actions   int   `json:"actions"`
	TempFiles int   `json:"temp_files"`
}

// tempMaxAge is the minimum age of a file in tmp/ for collection to remove
// it, because a younger one may belong to a write in progress elsewhere.
const tempMaxAge = 24 * time.Hour

// Collect removes every blob and action result not in live, and stale temp
// files. With dryRun it only counts. The caller must hold LockExclusive.
func (s *Store) Collect(live *Live, dryRun bool) (GCStats, error) {
	var st GCStats
	if !dryRun {
		if err := s.newEpoch(); err != nil {
			return st, err
		}
	}
	err := filepath.WalkDir(filepath.Join(s.root, "blobs"), func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		var d Digest
		if n, err := hex.Decode(d[:], []byte(de.Name())); err == nil && n == len(d) && live.Blobs[d] {
			return nil
		}
		if fi, err := de.Info(); err == nil {
			st.BlobBytes += fi.Size()
		}
		st.Blobs++
		return removeUnlessDry(p, dryRun)
	})
	if err != nil {
		return st, err
	}
	if err := s.collectPacks(live, dryRun, &st); err != nil {
		return st, err
	}
	err = filepath.WalkDir(filepath.Join(s.root, "actions"), func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		var k ActionKey
		if n, err := hex.Decode(k[:], []byte(de.Name())); err == nil && n == len(k) && live.Actions[k] {
			return nil
		}
		st.Actions++
		return removeUnlessDry(p, dryRun)
	})
	if err != nil {
		return st, err
	}
	entries, _ := os.ReadDir(filepath.Join(s.root, "tmp"))
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > tempMaxAge {
			st.TempFiles++
			_ = removeUnlessDry(filepath.Join(s.root, "tmp", e.Name()), dryRun)
		}
	}
	if !dryRun {
		if err := s.compactVerified(); err != nil {
			return st, fmt.Errorf("gc: rewrite the list of verified blobs: %w", err)
		}
	}
	return st, nil
}

// collectPacks rewrites each pack that holds blobs not in live without
// them, and removes packs whose index cannot be read, which hold nothing
// a build can find.
func (s *Store) collectPacks(live *Live, dryRun bool, st *GCStats) error {
	for _, pf := range s.listPacks() {
		n, size, err := s.rewritePack(pf, func(d Digest) bool { return live.Blobs[d] }, dryRun)
		if err != nil {
			return err
		}
		st.Blobs += n
		st.BlobBytes += size
	}
	entries, _ := os.ReadDir(s.packsDir())
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue // no pack; no read looks at it
		}
		s.packs.mu.RLock()
		known := s.packs.files[e.Name()] != nil
		s.packs.mu.RUnlock()
		if known {
			continue
		}
		path := filepath.Join(s.packsDir(), e.Name())
		if _, err := openPack(path); err == nil {
			// A pack written since the listing above.
			continue
		}
		st.TempFiles++
		if err := removeUnlessDry(path, dryRun); err != nil {
			return err
		}
	}
	return nil
}

// removeUnlessDry deletes the file at p, unless dryRun.
func removeUnlessDry(p string, dryRun bool) error {
	if dryRun {
		return nil
	}
	return os.Remove(p)
}

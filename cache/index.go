package cache

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Index is the file-state index: it maps a file's path and stat data to the
// digest last computed for it, so a file whose stat data has not changed is
// not read again. It is safe for concurrent use.
//
// The stat data includes the change time, which no user call can set: a
// file rewritten with the same size and its old mtime put back still gets a
// new ctime, and so is hashed again.
type Index struct {
	path    string
	mu      sync.Mutex
	entries map[string]indexEntry
	racy    map[string]bool // entries trusted in this process but not saved
	dirty   bool
}

type indexEntry struct {
	Size   int64
	Mtime  int64
	Ctime  int64
	Inode  uint64
	Mode   uint32
	Digest Digest
}

// racyWindow is the minimum age of a file's mtime and ctime for its entry
// to be saved. A file changed within the file system's timestamp granularity
// of being hashed could keep the same stat data with new contents, so such
// entries serve only the current process, and the next one hashes the file
// again.
const racyWindow = time.Second

// indexVersion changes whenever indexEntry or the digest algorithm does.
const indexVersion = 1

// LoadIndex reads the index file at path. A missing, unreadable or
// out-of-date index is an empty index: the cost is only re-hashing.
func LoadIndex(path string) *Index {
	ix := &Index{path: path, entries: map[string]indexEntry{}, racy: map[string]bool{}}
	f, err := os.Open(path)
	if err != nil {
		return ix
	}
	defer f.Close()
	dec := gob.NewDecoder(bufio.NewReader(f))
	var version int
	var entries map[string]indexEntry
	if dec.Decode(&version) != nil || version != indexVersion || dec.Decode(&entries) != nil || entries == nil {
		return ix
	}
	ix.entries = entries
	return ix
}

// Save writes the index atomically if it changed since it was loaded.
func (ix *Index) Save() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.dirty {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(ix.path), 0o755); err != nil {
		return fmt.Errorf("save file index: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(ix.path), ".index-*")
	if err != nil {
		return fmt.Errorf("save file index: %w", err)
	}
	saved := ix.entries
	if len(ix.racy) > 0 {
		saved = make(map[string]indexEntry, len(ix.entries))
		for p, e := range ix.entries {
			if !ix.racy[p] {
				saved[p] = e
			}
		}
	}
	w := bufio.NewWriter(tmp)
	enc := gob.NewEncoder(w)
	err = enc.Encode(indexVersion)
	if err == nil {
		err = enc.Encode(saved)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err != nil {
		abandon(tmp)
		return fmt.Errorf("save file index: %w", err)
	}
	if err := os.Rename(tmp.Name(), ix.path); err != nil {
		return fmt.Errorf("save file index: %w", err)
	}
	ix.dirty = false
	return nil
}

// Lookup returns the digest recorded for the file at path if its stat data
// still matches fi.
func (ix *Index) Lookup(path string, fi fs.FileInfo) (Digest, bool) {
	ix.mu.Lock()
	e, ok := ix.entries[path]
	ix.mu.Unlock()
	if !ok || e != entryFor(fi, e.Digest) {
		return Digest{}, false
	}
	return e.Digest, true
}

// Record remembers that the file at path, with stat data fi, has digest d.
func (ix *Index) Record(path string, fi fs.FileInfo, d Digest) {
	e := entryFor(fi, d)
	cutoff := time.Now().Add(-racyWindow).UnixNano()
	racy := e.Mtime > cutoff || e.Ctime > cutoff
	ix.mu.Lock()
	if prev, ok := ix.entries[path]; !ok || prev != e || ix.racy[path] != racy {
		ix.entries[path] = e
		ix.dirty = true
		if racy {
			ix.racy[path] = true
		} else {
			delete(ix.racy, path)
		}
	}
	ix.mu.Unlock()
}

// FileDigest returns the digest of the regular file at path, from the index
// when its stat data is unchanged, else by hashing it.
func (ix *Index) FileDigest(path string) (Digest, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Digest{}, nil, err
	}
	if d, ok := ix.Lookup(path, fi); ok {
		return d, fi, nil
	}
	d, _, err := HashFile(path)
	if err != nil {
		return Digest{}, nil, err
	}
	ix.Record(path, fi, d)
	return d, fi, nil
}

func entryFor(fi fs.FileInfo, d Digest) indexEntry {
	e := indexEntry{Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Mode: uint32(fi.Mode()), Digest: d}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Inode = st.Ino
		e.Ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return e
}

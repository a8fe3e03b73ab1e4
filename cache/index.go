package cache

import (
	"io/fs"
	"iter"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
//
// The entries read from the index file are kept as two sorted slices and
// never change. Entries recorded in this process go beside them, by folder,
// and win over the file's. Loading is therefore one pass over the file
// with no per-entry allocation, lookups take no lock until something is
// recorded, and a scan finds a folder's recorded entries once for all its
// files.
type Index struct {
	path string

	// paths and entries are the index file's contents, sorted by path.
	// They are read-only once loaded.
	loaded  sync.Once
	paths   []string
	entries []indexEntry

	mu       sync.Mutex
	recorded map[string]*recordedDir // by folder, keyed by the path up to its last separator
	count    atomic.Int64            // the number of recorded entries, read without mu
	dirty    bool
}

// indexEntry is the index's record for one path: the stat data the digest
// was computed for, and the digest.
type indexEntry struct {
	Size   int64
	Mtime  int64
	Ctime  int64
	Inode  uint64
	Mode   uint32
	Digest Digest
}

// recordedDir holds the entries recorded in this process for the files
// of one folder. Index.mu guards it.
//
// A scan records a folder's files in path order, so entries stays sorted
// and find is a binary search. The first entry that comes out of order,
// from a caller that records files one by one, makes find build byPath and
// use it from then on.
type recordedDir struct {
	entries []recordedEntry
	byPath  map[string]int
}

// recordedEntry is an entry recorded in this process. A racy entry serves
// this process only and is left out of the saved file.
type recordedEntry struct {
	path string
	indexEntry
	racy bool
}

// find returns the position of path's entry in d, and whether there is one.
func (d *recordedDir) find(path string) (int, bool) {
	if d.byPath != nil {
		pos, ok := d.byPath[path]
		return pos, ok
	}
	return slices.BinarySearchFunc(d.entries, path, func(r recordedEntry, path string) int {
		return strings.Compare(r.path, path)
	})
}

// add appends r to d. The caller has checked with find that d has no entry
// for r's path.
func (d *recordedDir) add(r recordedEntry) {
	if d.byPath == nil && len(d.entries) > 0 && d.entries[len(d.entries)-1].path > r.path {
		d.byPath = make(map[string]int, len(d.entries)+1)
		for pos, e := range d.entries {
			d.byPath[e.path] = pos
		}
	}
	if d.byPath != nil {
		d.byPath[r.path] = len(d.entries)
	}
	d.entries = append(d.entries, r)
}

// racyWindow is the minimum age of a file's mtime and ctime for its entry
// to be saved. A file changed within the file system's timestamp granularity
// of being hashed could keep the same stat data with new contents, so such
// entries serve only the current process, and the next one hashes the file
// again.
const racyWindow = time.Second

// LoadIndex reads the index file at path. A missing, unreadable, damaged or
// out-of-date index is an empty index: the cost is only re-hashing.
//
// The file is read on first use, not here: a build that finds every stage
// up to date from its no-op stamp never needs it.
func LoadIndex(path string) *Index {
	return &Index{path: path, recorded: map[string]*recordedDir{}}
}

// load reads the index file once. Every method that reads paths or
// entries calls it first.
func (ix *Index) load() {
	ix.loaded.Do(func() {
		data, err := os.ReadFile(ix.path)
		if err != nil {
			return
		}
		if paths, entries, err := decodeIndex(data); err == nil {
			ix.paths, ix.entries = paths, entries
		}
	})
}

// Save writes the index atomically if it changed since it was loaded or
// last saved. Racy entries are left out. Only recording makes it dirty,
// and recording loads the file first. The file is renamed into place
// but not synced: a file torn by a crash fails its checksum and loads as
// an empty index.
func (ix *Index) Save() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.dirty {
		return nil
	}
	n, entries := ix.merged()
	if err := writeIndexFile(ix.path, n, entries); err != nil {
		return err
	}
	ix.dirty = false
	return nil
}

// merged returns an estimate of the number of entries to save, and the
// entries sorted by path. They are the loaded and the recorded entries,
// without the racy ones, and a recorded entry replaces a loaded one of the
// same path. The caller holds ix.mu.
func (ix *Index) merged() (int, iter.Seq2[string, indexEntry]) {
	// Taken folder by folder in path order, the recorded entries are
	// mostly sorted already. Only the files of a folder and those of its
	// sub-folders interleave, as do folders recorded out of order.
	dirs := make([]string, 0, len(ix.recorded))
	for dir := range ix.recorded {
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	newer := make([]*recordedEntry, 0, ix.count.Load())
	for _, dir := range dirs {
		d := ix.recorded[dir]
		for i := range d.entries {
			newer = append(newer, &d.entries[i])
		}
	}
	slices.SortFunc(newer, func(a, b *recordedEntry) int { return strings.Compare(a.path, b.path) })

	return len(ix.paths) + len(newer), func(yield func(string, indexEntry) bool) {
		i := 0
		for _, r := range newer {
			// The loaded entries before r, then r in place of a loaded
			// entry of its path.
			for i < len(ix.paths) && ix.paths[i] < r.path {
				if !yield(ix.paths[i], ix.entries[i]) {
					return
				}
				i++
			}
			if i < len(ix.paths) && ix.paths[i] == r.path {
				i++
			}
			if !r.racy && !yield(r.path, r.indexEntry) {
				return
			}
		}
		for ; i < len(ix.paths); i++ {
			if !yield(ix.paths[i], ix.entries[i]) {
				return
			}
		}
	}
}

// Lookup returns the digest recorded for the file at path if its stat data
// still matches fi.
func (ix *Index) Lookup(path string, fi fs.FileInfo) (Digest, bool) {
	return ix.lookup(path, entryFor(fi, Digest{}))
}

// lookup returns the digest of path's entry if the entry has the stat data
// of want. It ignores want's digest.
func (ix *Index) lookup(path string, want indexEntry) (Digest, bool) {
	ix.load()
	dir, _ := splitIndexPath(path)
	span := indexSpan{hi: len(ix.paths)}
	if ix.count.Load() > 0 {
		ix.mu.Lock()
		span.recorded = ix.recorded[dir]
		ix.mu.Unlock()
	}
	return ix.lookupIn(span, path, want)
}

// indexSpan is the part of the index for the files of one folder. It is
// the range of the loaded entries whose paths start with a prefix of skip
// bytes, and the folder's recorded entries. Every path looked up in a span
// starts with that prefix.
type indexSpan struct {
	lo, hi, skip int
	recorded     *recordedDir // nil if the folder had none when the span was made
}

// span returns the span of the folder whose path, with a final separator,
// is prefix. A lookup in a folder's span compares only names, over a range
// the size of the folder.
//
// Lookups in a span may miss a file recorded after the span was made,
// which costs at most hashing the file again.
func (ix *Index) span(prefix string) indexSpan {
	ix.load()
	lo, _ := slices.BinarySearch(ix.paths, prefix)
	n := sort.Search(len(ix.paths)-lo, func(i int) bool { return !strings.HasPrefix(ix.paths[lo+i], prefix) })
	span := indexSpan{lo: lo, hi: lo + n, skip: len(prefix)}
	if ix.count.Load() > 0 {
		ix.mu.Lock()
		span.recorded = ix.recorded[prefix]
		ix.mu.Unlock()
	}
	return span
}

// lookupIn returns the digest of path's entry in span if the entry has the
// stat data of want.
func (ix *Index) lookupIn(span indexSpan, path string, want indexEntry) (Digest, bool) {
	if span.recorded != nil {
		ix.mu.Lock()
		pos, ok := span.recorded.find(path)
		var r indexEntry
		if ok {
			r = span.recorded.entries[pos].indexEntry
		}
		ix.mu.Unlock()
		if ok {
			return matching(&r, want)
		}
	}

	// A binary search over the names after the folder's prefix.
	name := path[span.skip:]
	lo, hi := span.lo, span.hi
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if ix.paths[mid][span.skip:] < name {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == span.hi || ix.paths[lo][span.skip:] != name {
		return Digest{}, false
	}
	return matching(&ix.entries[lo], want)
}

// matching returns e's digest if e has the stat data of want.
func matching(e *indexEntry, want indexEntry) (Digest, bool) {
	want.Digest = e.Digest
	if *e != want {
		return Digest{}, false
	}
	return e.Digest, true
}

// splitIndexPath splits path after its last separator.
func splitIndexPath(path string) (dir, name string) {
	i := strings.LastIndexByte(path, os.PathSeparator) + 1
	return path[:i], path[i:]
}

// Record remembers that the file at path, with stat data fi, has digest d.
func (ix *Index) Record(path string, fi fs.FileInfo, d Digest) {
	ix.record(path, entryFor(fi, d))
}

func (ix *Index) record(path string, e indexEntry) {
	ix.recordAll([]recordedEntry{{path: path, indexEntry: e}})
}

// recordAll records the entries of batch under one lock, and sets their
// racy fields. A batch of one folder's files in path order costs least.
func (ix *Index) recordAll(batch []recordedEntry) {
	ix.load()
	cutoff := time.Now().Add(-racyWindow).UnixNano()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var d *recordedDir
	var dir string
	for _, r := range batch {
		r.racy = r.Mtime > cutoff || r.Ctime > cutoff
		// The map is read again only when the batch moves to another
		// folder.
		if folder, _ := splitIndexPath(r.path); d == nil || folder != dir {
			dir = folder
			if d = ix.recorded[dir]; d == nil {
				d = &recordedDir{}
				ix.recorded[dir] = d
			}
		}

		if pos, ok := d.find(r.path); ok {
			if d.entries[pos] != r {
				d.entries[pos] = r
				ix.dirty = true
			}
			continue
		}
		if i, ok := slices.BinarySearch(ix.paths, r.path); ok && !r.racy && ix.entries[i] == r.indexEntry {
			continue
		}
		d.add(r)
		ix.count.Add(1)
		ix.dirty = true
	}
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

package cache

import (
	"io/fs"
	"slices"
)

// FileStat is the stat data the file-state index compares: a file whose
// FileStat is unchanged is taken to have unchanged contents.
type FileStat struct {
	Size  int64
	Mtime int64 // nanoseconds since the epoch
	Ctime int64 // nanoseconds since the epoch
	Inode uint64
	Mode  uint32
}

// StatOf returns the FileStat of fi, as the index records it.
func StatOf(fi fs.FileInfo) FileStat {
	return statOfEntry(entryFor(fi, Digest{}))
}

// Settled returns the stat data and digest the index holds for the file at
// path, if a later process may trust them. That is an entry read from the
// index file, or one recorded here for a file not changed within the racy
// window.
func (ix *Index) Settled(path string) (FileStat, Digest, bool) {
	ix.load()
	dir, _ := splitIndexPath(path)
	if ix.count.Load() > 0 {
		ix.mu.Lock()
		d := ix.recorded[dir]
		var r recordedEntry
		ok := false
		if d != nil {
			var pos int
			if pos, ok = d.find(path); ok {
				r = d.entries[pos]
			}
		}
		ix.mu.Unlock()
		if ok {
			if r.racy {
				return FileStat{}, Digest{}, false
			}
			return statOfEntry(r.indexEntry), r.Digest, true
		}
	}
	i, ok := slices.BinarySearch(ix.paths, path)
	if !ok {
		return FileStat{}, Digest{}, false
	}
	e := ix.entries[i]
	return statOfEntry(e), e.Digest, true
}

func statOfEntry(e indexEntry) FileStat {
	return FileStat{Size: e.Size, Mtime: e.Mtime, Ctime: e.Ctime, Inode: e.Inode, Mode: e.Mode}
}

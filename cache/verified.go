package cache

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// verifiedFile lists the large loose blobs that a restore hashed in full
// and found matching their names, each with the blob file's stat data at
// that time. A restore of a blob whose stat data still matches copies it
// without hashing it again, as a build trusts a workspace file whose stat
// data matches the file-state index. A write(2) to the blob, a chmod, a
// rename over it or a copy of the cache changes its change time or inode.
// A write through a shared mapping whose page is already dirty changes
// neither, so a blob is recorded, and trusted, only under a read lease:
// while no process has it open for writing (see readLease).
const verifiedFile = "verified"

// trustMinSize is the least size of a blob that restores may trust: below
// it, hashing costs little beside the copy.
const trustMinSize = treeSegment

// racyMargin is how long after a blob's last change a record of it must
// be written to be trusted. Within it, a change during the same tick of
// the file system's clock could leave the change time unchanged.
const racyMargin = time.Second

// verifiedRecordSize is the size of one record: digest, inode, size, mtime,
// ctime, the time of the record, and a CRC-32C of the rest.
const verifiedRecordSize = 32 + 5*8 + 4

// blobStat is the stat data of a blob file that a record compares.
type blobStat struct {
	ino, size, mtime, ctime int64
}

// statOfBlob returns the stat data of fi, with ok false where the platform
// gives no inode and change time.
func statOfBlob(fi fs.FileInfo) (blobStat, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return blobStat{}, false
	}
	return blobStat{
		ino:   int64(st.Ino),
		size:  fi.Size(),
		mtime: fi.ModTime().UnixNano(),
		ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
	}, true
}

// verifiedSet is the store's memo of verified blobs, read from
// verifiedFile on first use.
type verifiedSet struct {
	mu     sync.Mutex
	loaded bool
	byBlob map[Digest]verifiedRecord
}

// verifiedRecord is one blob's entry in verifiedFile: its stat data when
// it was hashed, and when the record was written.
type verifiedRecord struct {
	stat     blobStat
	recorded int64 // Unix nanoseconds
}

// trusts reports whether the blob d, whose open file has the stat data fi,
// was verified since it last changed.
func (s *Store) trusts(d Digest, fi fs.FileInfo) bool {
	st, ok := statOfBlob(fi)
	if !ok || st.size < trustMinSize {
		return false
	}
	v := &s.verified
	v.mu.Lock()
	defer v.mu.Unlock()
	s.loadVerified()
	r, ok := v.byBlob[d]
	if !ok || r.stat != st {
		return false
	}
	changed := max(st.mtime, st.ctime)
	return r.recorded-changed >= int64(racyMargin)
}

// noteVerified records that the blob d, with the stat data fi, hashed to
// its name. The caller checked that nothing opened the blob for writing
// from before it took fi to after the hash (see readLease).
func (s *Store) noteVerified(d Digest, fi fs.FileInfo) {
	st, ok := statOfBlob(fi)
	if !ok || st.size < trustMinSize {
		return
	}
	r := verifiedRecord{stat: st, recorded: time.Now().UnixNano()}
	v := &s.verified
	v.mu.Lock()
	defer v.mu.Unlock()
	s.loadVerified()
	v.byBlob[d] = r
	// O_APPEND makes each small write land whole after the others, so
	// builds sharing the cache can append at once. A record that is lost
	// costs only a hash on the next restore.
	out, err := os.OpenFile(filepath.Join(s.root, verifiedFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	_, _ = out.Write(encodeVerified(d, r))
	_ = out.Close()
}

// loadVerified reads verifiedFile once. A later record of the same blob
// replaces an earlier one. Where a record fails its checksum, as one torn
// by a crash or a full disk does, the search for the next record goes on
// byte by byte, so the records appended after it still count. The caller
// holds v.mu.
func (s *Store) loadVerified() {
	v := &s.verified
	if v.loaded {
		return
	}
	v.loaded = true
	v.byBlob = map[Digest]verifiedRecord{}
	data, err := os.ReadFile(filepath.Join(s.root, verifiedFile))
	if err != nil {
		return
	}
	for len(data) >= verifiedRecordSize {
		d, r, ok := decodeVerified(data[:verifiedRecordSize])
		if !ok {
			data = data[1:]
			continue
		}
		v.byBlob[d] = r
		data = data[verifiedRecordSize:]
	}
}

func encodeVerified(d Digest, r verifiedRecord) []byte {
	b := make([]byte, 0, verifiedRecordSize)
	b = append(b, d[:]...)
	for _, n := range []int64{r.stat.ino, r.stat.size, r.stat.mtime, r.stat.ctime, r.recorded} {
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeVerified(b []byte) (Digest, verifiedRecord, bool) {
	body := b[:verifiedRecordSize-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[verifiedRecordSize-4:]) {
		return Digest{}, verifiedRecord{}, false
	}
	d := Digest(body[:32])
	n := func(i int) int64 { return int64(binary.LittleEndian.Uint64(body[32+8*i:])) }
	return d, verifiedRecord{stat: blobStat{ino: n(0), size: n(1), mtime: n(2), ctime: n(3)}, recorded: n(4)}, true
}

// compactVerified rewrites verifiedFile with the records of blobs that
// still exist unchanged, one each. Garbage collection calls it, so the
// file does not grow with every restore of the same blob.
func (s *Store) compactVerified() error {
	v := &s.verified
	v.mu.Lock()
	defer v.mu.Unlock()
	s.loadVerified()
	var buf bytes.Buffer
	for d, r := range v.byBlob {
		fi, err := os.Stat(s.BlobPath(d))
		if err != nil {
			delete(v.byBlob, d)
			continue
		}
		if st, ok := statOfBlob(fi); !ok || st != r.stat {
			delete(v.byBlob, d)
			continue
		}
		buf.Write(encodeVerified(d, r))
	}
	path := filepath.Join(s.root, verifiedFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	// rename(2) cannot put a file over a folder of that name.
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		if err := os.RemoveAll(path); err != nil {
			return err
		}
	}
	return os.Rename(tmp, path)
}

// forgetVerified empties the list of verified blobs, so that restores
// hash every blob again until one is recorded anew.
func (s *Store) forgetVerified() error {
	v := &s.verified
	v.mu.Lock()
	defer v.mu.Unlock()
	v.loaded, v.byBlob = true, map[Digest]verifiedRecord{}
	return os.RemoveAll(filepath.Join(s.root, verifiedFile))
}

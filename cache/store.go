package cache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/zeebo/blake3"
)

// Store is the local content-addressed store: blobs under blobs/, or many
// small ones together in packs under packs/, action results under
// actions/, run records under runs/. Its methods are safe for
// concurrent use by goroutines and by other processes sharing the folder.
type Store struct {
	root    string
	written atomic.Bool // an entry was renamed into place since the last Sync

	// fresh counts the entries renamed into place since the last Sync,
	// up to syncOneByOne; many is set after more. flushing counts the
	// background flushes of those entries, flushSlots bounds how many run
	// at once, and flushErr is the first that failed.
	freshMu    sync.Mutex
	fresh      int
	many       bool
	flushErr   error
	flushing   sync.WaitGroup
	flushSlots chan struct{}

	packs    packSet
	verified verifiedSet
}

// ErrNotFound is returned, possibly wrapped, when a blob or action result is
// not in the store.
var ErrNotFound = errors.New("not found in cache")

// CorruptError reports a stored entry that failed verification. The entry is
// treated as a miss and removed, so the next build stores a good copy.
type CorruptError struct {
	What   string // "blob" or "action result"
	Name   string // its digest or key
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt %s %s in cache: %s", e.What, e.Name, e.Reason)
}

// OpenStore opens the store rooted at dir, creating its folders.
func OpenStore(dir string) (*Store, error) {
	for _, sub := range []string{"blobs", "packs", "actions", "runs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("open cache %s: %w", dir, err)
		}
	}
	s := &Store{root: dir, flushSlots: make(chan struct{}, syncWorkers)}
	// A new or emptied cache gets an epoch of its own, so that a
	// workspace's memo of an earlier cache is not trusted here.
	if s.Epoch() == "" {
		if err := s.newEpoch(); err != nil {
			return nil, fmt.Errorf("open cache %s: %w", dir, err)
		}
	}
	return s, nil
}

// Root returns the folder the store lives in.
func (s *Store) Root() string { return s.root }

// BlobPath returns where the loose blob with digest d lives, whether or
// not it exists. A packed blob has no path of its own.
func (s *Store) BlobPath(d Digest) string {
	h := d.String()
	return filepath.Join(s.root, "blobs", h[:2], h)
}

// HasBlob reports whether a blob named d exists, loose or packed. It does
// not verify it.
func (s *Store) HasBlob(d Digest) bool {
	_, ok := s.BlobSize(d)
	return ok
}

// PutBytes stores b and returns its digest.
func (s *Store) PutBytes(b []byte) (Digest, error) {
	d := SumBytes(b)
	if s.HasBlob(d) {
		return d, nil
	}
	return d, s.writeEntry(s.BlobPath(d), b)
}

// PutFile stores a copy of the file at path and returns its digest and size.
// The copy is hashed as it is written, so the digest always names the bytes
// stored even if the file changes meanwhile. Where the file system supports
// reflinks, the copy shares the file's extents and costs no data writes.
func (s *Store) PutFile(path string) (Digest, int64, error) {
	src, err := os.Open(path)
	if err != nil {
		return Digest{}, 0, fmt.Errorf("store %s: %w", path, err)
	}
	defer src.Close()
	tmp, err := s.tempFile()
	if err != nil {
		return Digest{}, 0, err
	}

	// Copy (or clone) into the temp file, hashing what lands there.
	d, n, err := copyHashed(tmp, src)
	if err != nil {
		abandon(tmp)
		return Digest{}, 0, fmt.Errorf("store %s: %w", path, err)
	}
	// A blob of the right size is kept; one of another size is damaged
	// and replaced by the verified copy.
	if fi, err := os.Stat(s.BlobPath(d)); err == nil && fi.Size() == n {
		abandon(tmp)
		return d, n, nil
	}
	return d, n, s.commit(tmp, s.BlobPath(d))
}

// OpenBlob opens the loose blob named d for reading. The caller must
// verify the bytes if it hands them on; ReadBlob and RestoreFile do. A
// packed blob has no file of its own: OpenBlobReader reads either kind.
func (s *Store) OpenBlob(d Digest) (*os.File, error) {
	f, err := os.Open(s.BlobPath(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return f, err
}

// OpenBlobReader opens the blob named d, loose or packed, for reading,
// and returns its size. Packed blobs are small and come verified; the
// caller must verify a loose one if it hands the bytes on.
func (s *Store) OpenBlobReader(d Digest) (io.ReadCloser, int64, error) {
	f, err := s.OpenBlob(d)
	if err == nil {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, fi.Size(), nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, 0, err
	}
	b, ok := s.packed(d)
	if !ok {
		return nil, 0, err
	}
	data, err := s.readPacked(d, b)
	if err != nil {
		return nil, 0, err
	}
	return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
}

// ReadBlob returns the verified contents of the blob named d.
func (s *Store) ReadBlob(d Digest) ([]byte, error) {
	b, err := os.ReadFile(s.BlobPath(d))
	if errors.Is(err, os.ErrNotExist) {
		if pb, ok := s.packed(d); ok {
			return s.readPacked(d, pb)
		}
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	if got := SumBytes(b); got != d {
		s.discard(d)
		return nil, &CorruptError{What: "blob", Name: d.String(), Reason: "contents hash to " + got.String()}
	}
	return b, nil
}

// discard removes a blob that failed verification.
func (s *Store) discard(d Digest) {
	_ = os.Remove(s.BlobPath(d))
	_ = s.newEpoch()
}

// tempFile creates a file in the store's tmp folder, which is on the same
// file system as every final location, so a rename commits it atomically.
func (s *Store) tempFile() (*os.File, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "put-*")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return f, nil
}

// commit moves tmp to name. It does not fsync: one fsync per entry made a
// cold build of many small outputs wait on the disk thousands of times.
// Every read verifies what it reads, so an entry left torn by a power cut
// is a miss that gets replaced, and Sync flushes a whole build at once.
func (s *Store) commit(tmp *os.File, name string) error {
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("store: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("store: %w", err)
	}
	return s.rename(tmp.Name(), name)
}

// rename moves the temp file tmp to name, creating name's fan-out folder
// when it does not exist yet. On failure it removes tmp.
func (s *Store) rename(tmp, name string) error {
	s.written.Store(true)
	err := os.Rename(tmp, name)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(name), 0o755); err == nil {
			err = os.Rename(tmp, name)
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store: %w", err)
	}
	// Only now: a flush that started before the rename would find no
	// entry, or no folder, to flush.
	s.noteFresh(name)
	return nil
}

func abandon(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// copyHashed fills dst with the contents of src and returns the digest of
// what dst now holds. A reflink clone is tried first. A file longer than a
// hash buffer is copied by the kernel (copy_file_range(2)) and then hashed
// from dst on every core. A shorter one is hashed as it is written. Either
// way the digest describes the stored bytes, even if src changes meanwhile.
func copyHashed(dst, src *os.File) (Digest, int64, error) {
	if cloneFile(dst, src) == nil {
		return hashCopy(dst)
	}
	if fi, err := src.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > hashBufferSize {
		if _, err := io.Copy(dst, src); err != nil {
			return Digest{}, 0, err
		}
		return hashCopy(dst)
	}
	h := blake3.New()
	bp := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(bp)
	n, err := io.CopyBuffer(io.MultiWriter(dst, h), src, *bp)
	if err != nil {
		return Digest{}, n, err
	}
	var d Digest
	h.Sum(d[:0])
	return d, n, nil
}

// hashCopy returns the digest and size of the file f, which is a copy that
// only this process writes.
func hashCopy(f *os.File) (Digest, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return Digest{}, 0, err
	}
	return hashOpenFile(f, fi.Size(), runtime.GOMAXPROCS(0))
}

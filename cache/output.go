package cache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// StoreOutput puts the file or directory at path into the store and
// describes it as the output named name at workspace path rel.
func (s *Store) StoreOutput(name, rel, path string, ix *Index) (Output, error) {
	return s.storeOutput(name, rel, path, ix, nil)
}

// StoreSource stores the file or folder at path, a source input at
// workspace path rel, as StoreOutput does, except that its small files
// and a folder's tree go into pack, and that the tree holds permission
// bits reduced by PortablePerm. They become readable together when
// the caller commits pack, so a tree in the store still lists only
// stored files. A first build over a folder of 100,000 small files then
// creates a few packs, not 100,000 blobs.
func (s *Store) StoreSource(rel, path string, ix *Index, pack *PackWriter) (Output, error) {
	return s.storeOutput(rel, rel, path, ix, pack)
}

// storeOutput stores what is at path, loose or, when pack is not nil,
// in pack.
func (s *Store) storeOutput(name, rel, path string, ix *Index, pack *PackWriter) (Output, error) {
	o := Output{Name: name, Path: rel}
	fi, err := os.Lstat(path)
	if err != nil {
		return o, err
	}
	o.Perm = fi.Mode().Perm()
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return o, fmt.Errorf("output %s is a %s, want a regular file or a directory", rel, fi.Mode().Type())
		}
		o.Kind = KindFile
		o.Digest, o.Size, err = s.putSmallRead(path)
		if err == nil {
			ix.Record(path, fi, o.Digest)
		}
		return o, err
	}

	// A directory: store every file, then the tree that lists them.
	o.Kind = KindDir
	t, err := ScanTree(path, ix)
	if err != nil {
		return o, err
	}
	for _, e := range t.Entries {
		if e.Kind != KindFile {
			continue
		}
		p := filepath.Join(path, filepath.FromSlash(e.Path))
		if pack != nil {
			if _, err := pack.PutSmallFile(p, e.Digest); err != nil {
				return o, err
			}
			continue
		}
		if s.HasBlob(e.Digest) {
			continue
		}
		d, _, err := s.putSmallRead(p)
		if err != nil {
			return o, err
		}
		if d != e.Digest {
			return o, fmt.Errorf("output %s changed while it was stored: %s", rel, e.Path)
		}
	}
	if pack != nil {
		// A source folder is stored in its portable form, so that the
		// stored tree is named by the folder's input digest.
		o.Digest, err = pack.PutBytes(t.EncodePortable())
	} else {
		o.Digest, err = s.PutBytes(t.Encode())
	}
	o.Size = t.Size()
	return o, err
}

// Matches reports whether the workspace path holds exactly output o, using
// the index so that an unchanged file is only statted.
func (s *Store) Matches(o Output, path string, ix *Index) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Perm() != o.Perm {
		return false
	}
	switch o.Kind {
	case KindFile:
		if !fi.Mode().IsRegular() || fi.Size() != o.Size {
			return false
		}
		if d, ok := ix.Lookup(path, fi); ok {
			return d == o.Digest
		}
		d, _, err := ix.FileDigest(path)
		return err == nil && d == o.Digest
	case KindDir:
		if !fi.IsDir() {
			return false
		}
		t, err := ScanTree(path, ix)
		return err == nil && t.Digest() == o.Digest
	}
	return false
}

// Restore writes output o to path from the store, replacing whatever is
// there. Every byte is verified against its digest before it is put in
// place. On a missing or corrupt blob Restore returns an error and leaves
// path as it was.
func (s *Store) Restore(o Output, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("restore %s: %w", o.Path, err)
	}
	removeStaleRestores(path)
	if o.Kind == KindFile {
		return s.restoreFile(o.Digest, o.Size, o.Perm, path)
	}
	data, err := s.ReadBlob(o.Digest)
	if err != nil {
		return fmt.Errorf("restore %s: %w", o.Path, err)
	}
	t, err := DecodeTree(data)
	if err != nil {
		return fmt.Errorf("restore %s: %w", o.Path, err)
	}

	// Build the directory beside its final place, then swap it in, so a
	// failure half-way leaves the old contents and only a temp folder.
	tmp, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".restore-*")
	if err != nil {
		return fmt.Errorf("restore %s: %w", o.Path, err)
	}
	if err := s.fillDir(t, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("restore %s: %w", o.Path, err)
	}
	if err := os.Chmod(tmp, o.Perm); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("restore %s: %w", o.Path, err)
	}
	if err := os.RemoveAll(path); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("restore %s: %w", o.Path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("restore %s: %w", o.Path, err)
	}
	return nil
}

func (s *Store) fillDir(t *Tree, dir string) error {
	// Entries are in path order, so a folder comes before what it holds.
	// Folder modes are set last, because a read-only folder cannot be filled.
	var dirs []TreeEntry
	for _, e := range t.Entries {
		if !validTreePath(e.Path) {
			return fmt.Errorf("tree entry %q leaves its directory", e.Path)
		}
		p := filepath.Join(dir, filepath.FromSlash(e.Path))
		switch e.Kind {
		case KindDir:
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, e)
		case KindSymlink:
			if err := os.Symlink(e.Target, p); err != nil {
				return err
			}
		case KindFile:
			if err := s.restoreFile(e.Digest, e.Size, e.Perm, p); err != nil {
				return err
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(filepath.Join(dir, filepath.FromSlash(dirs[i].Path)), dirs[i].Perm); err != nil {
			return err
		}
	}
	return nil
}

// validTreePath reports whether p names a place inside a tree's folder. Unlike
// fs.ValidPath it accepts names that are not UTF-8, which Linux allows and
// ScanTree records.
func validTreePath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") {
		return false
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
	}
	return true
}

// restoreFile copies (or reflinks) a blob to a temp file beside path,
// checks its size and digest, sets its mode and renames it into place.
//
// The digest is checked on the blob while it is copied only under a read
// lease that holds to the end, so that nothing wrote the blob between the
// two reads. Without one, or when a process opened the blob for writing
// meanwhile, the copy itself is hashed after it is written. So what goes
// into the workspace is what was hashed, or a blob that was verified
// before and that nothing opened for writing since.
func (s *Store) restoreFile(d Digest, size int64, perm fs.FileMode, path string) error {
	src, err := s.OpenBlob(d)
	if errors.Is(err, ErrNotFound) {
		if b, ok := s.packed(d); ok {
			return s.restorePacked(d, b, size, perm, path)
		}
	}
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		// A symlink to a device, say, which could read forever.
		s.discard(d)
		return &CorruptError{What: "blob", Name: d.String(), Reason: "not a regular file"}
	}
	if err != nil || fi.Size() != size {
		// Either the blob is damaged or the record is wrong; only a blob
		// that fails its own digest is removed.
		if got, _, err := HashReader(src); err == nil && got != d {
			s.discard(d)
		}
		return &CorruptError{What: "blob", Name: d.String(), Reason: fmt.Sprintf("size differs from the recorded %d bytes", size)}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".restore-*")
	if err != nil {
		return err
	}
	lease := takeReadLease(src)
	defer lease.release()
	var got Digest
	trusted := lease.ok && s.trusts(d, fi)
	switch {
	case trusted:
		got, err = d, copyBlob(tmp, src, size)
	case lease.ok:
		got, err = copyVerified(tmp, src, size)
	default:
		got, err = copyThenHash(tmp, src, size)
	}
	unwritten := lease.held() && unchangedSince(src, fi)
	if err == nil && lease.ok && !unwritten {
		got, _, err = hashOpenFile(tmp, size, runtime.GOMAXPROCS(0))
	}
	switch {
	case err == nil && got != d:
		s.discard(d)
		err = &CorruptError{What: "blob", Name: d.String(), Reason: "contents hash to " + got.String()}
	case err == nil && !trusted && unwritten:
		s.noteVerified(d, fi)
	}
	return placeRestored(tmp, err, perm, path)
}

// unchangedSince reports whether the open file f still has the stat data
// fi.
func unchangedSince(f *os.File, fi fs.FileInfo) bool {
	now, err := f.Stat()
	if err != nil {
		return false
	}
	a, okA := statOfBlob(fi)
	b, okB := statOfBlob(now)
	return okA && okB && a == b
}

// restorePacked writes the packed blob d at b, verified, to a temp file
// beside path, sets its mode and renames it into place.
func (s *Store) restorePacked(d Digest, b packedBlob, size int64, perm fs.FileMode, path string) error {
	if b.size != size {
		return &CorruptError{What: "blob", Name: d.String(), Reason: fmt.Sprintf("size %d in pack %s differs from the recorded %d bytes", b.size, b.pack.name, size)}
	}
	data, err := s.readPacked(d, b)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".restore-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	return placeRestored(tmp, err, perm, path)
}

// placeRestored finishes a restore into the temp file tmp, whose writing
// ended with err: it sets the mode perm and renames tmp to path, or
// removes tmp on any failure.
func placeRestored(tmp *os.File, err error, perm fs.FileMode, path string) error {
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	// rename(2) cannot put a file over a folder, so the folder is removed,
	// and only once the file is verified.
	if fi, lerr := os.Lstat(path); err == nil && lerr == nil && fi.IsDir() {
		err = os.RemoveAll(path)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return nil
}

// IsMiss reports whether err means an entry is absent or unusable, as
// opposed to a failure of the machine such as a full disk.
func IsMiss(err error) bool {
	var ce *CorruptError
	return errors.Is(err, ErrNotFound) || errors.As(err, &ce)
}

// copyVerified fills dst with the blob src of size bytes and returns the
// digest of the blob. Where the file system has reflinks, the clone is
// hashed from dst. Elsewhere the kernel copies the bytes
// (copy_file_range(2)) while src is hashed on the other cores. A blob is
// read-only and nothing writes it during the copy, so the digest of src is
// that of the copy. The copy keeps one core busy, so the hash leaves it
// one: on a 2-core machine a second hash worker made restoring 1 GiB
// slower, 0.40 s against 0.36 s.
func copyVerified(dst, src *os.File, size int64) (Digest, error) {
	if cloneFile(dst, src) == nil {
		d, _, err := hashOpenFile(dst, size, runtime.GOMAXPROCS(0))
		return d, err
	}
	type hashed struct {
		d   Digest
		n   int64
		err error
	}
	done := make(chan hashed, 1)
	go func() {
		d, n, err := hashOpenFile(src, size, max(1, runtime.GOMAXPROCS(0)-1))
		done <- hashed{d, n, err}
	}()
	copied, err := io.Copy(dst, src)
	h := <-done
	switch {
	case err != nil:
		return Digest{}, err
	case h.err != nil:
		return Digest{}, h.err
	case copied != h.n:
		return Digest{}, fmt.Errorf("blob changed while it was copied: %d bytes copied, %d hashed", copied, h.n)
	}
	return h.d, nil
}

// copyThenHash fills dst with the blob src of size bytes and returns the
// digest of what dst then holds.
func copyThenHash(dst, src *os.File, size int64) (Digest, error) {
	if err := copyBlob(dst, src, size); err != nil {
		return Digest{}, err
	}
	d, _, err := hashOpenFile(dst, size, runtime.GOMAXPROCS(0))
	return d, err
}

// copyBlob fills dst with the blob src of size bytes, unchecked: a reflink
// clone where the file system has them, else a copy by the kernel.
func copyBlob(dst, src *os.File, size int64) error {
	if cloneFile(dst, src) == nil {
		return nil
	}
	n, err := io.Copy(dst, src)
	if err == nil && n != size {
		err = fmt.Errorf("blob changed while it was copied: %d bytes copied, %d expected", n, size)
	}
	return err
}

// removeStaleRestores deletes the temp files and folders that restores of
// path left when they were killed: a restore writes beside its destination,
// and a SIGKILL in the middle leaves a hidden .NAME.restore-N there that
// nothing reads. Only one build at a time uses a workspace, so any such
// file is stale.
func removeStaleRestores(path string) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return
	}
	prefix := "." + filepath.Base(path) + ".restore-"
	for _, e := range entries {
		// The temp names end in digits only, so the temps of an output
		// named like NAME.restore-x are not taken for NAME's.
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			_ = os.RemoveAll(filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
}

package cache

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/zeebo/blake3"
)

// PackWriter stores small blobs in a new pack. The blobs become readable
// when Commit renames the pack into place. Until then they exist only in
// a temp file, which a killed build leaves to garbage collection. Its
// methods are safe for concurrent use.
type PackWriter struct {
	s       *Store
	maxSize int64     // packMaxSize, smaller in tests
	listed  sync.Once // the store's packs were listed

	mu      sync.Mutex
	f       *os.File // the temp file, nil before the first blob
	w       *bufio.Writer
	off     int64
	entries []packEntry
	sizes   map[Digest]int64 // blobs in this pack
	err     error            // the first write failure; the pack is lost
}

// NewPackWriter returns a writer of a new pack. It creates no file until
// the first blob.
func (s *Store) NewPackWriter() *PackWriter {
	return &PackWriter{s: s, maxSize: packMaxSize, sizes: map[Digest]int64{}}
}

// PutSmallFile stores the file at path, which was hashed to want, and
// returns its size, as Store.PutSmallFile does. A regular file of at most
// PackBlobMax bytes goes into the pack; anything else is stored loose.
// A blob the store holds already is not stored again.
func (p *PackWriter) PutSmallFile(path string, want Digest) (int64, error) {
	if size, ok := p.has(want); ok {
		return size, nil
	}
	data, ok, err := readSmall(path)
	if err != nil {
		return 0, err
	}
	if !ok || len(data) > PackBlobMax {
		return p.s.PutSmallFile(path, want)
	}
	if got := SumBytes(data); got != want {
		return 0, changedError(path, got, want)
	}
	return int64(len(data)), p.add(want, data)
}

// PutRead reads the file at path whole, packs it and returns its digest,
// for a caller that hashes a source and stores it at once. A file that is
// not regular or is larger than PackBlobMax is an error, and nothing is
// stored.
func (p *PackWriter) PutRead(path string) (Digest, error) {
	data, ok, err := readSmall(path)
	if err != nil {
		return Digest{}, err
	}
	if !ok || len(data) > PackBlobMax {
		return Digest{}, fmt.Errorf("pack %s: not a regular file of at most %d bytes", path, PackBlobMax)
	}
	return p.PutBytes(data)
}

// PutBytes packs b, whatever its size, and returns its digest. It serves
// the trees of source folders, which must become readable with the files
// they list.
func (p *PackWriter) PutBytes(b []byte) (Digest, error) {
	d := SumBytes(b)
	if _, ok := p.has(d); ok {
		return d, nil
	}
	return d, p.add(d, b)
}

// has reports the size of the blob d when this pack or another pack holds
// it. It does not look for a loose blob: a stat per source cost a third
// of packing it, and a blob both loose and packed does no harm.
func (p *PackWriter) has(d Digest) (int64, bool) {
	p.listed.Do(func() { p.s.refreshPacks() })
	p.mu.Lock()
	size, ok := p.sizes[d]
	p.mu.Unlock()
	if ok {
		return size, true
	}
	if b, ok := p.s.packedKnown(d); ok {
		return b.size, true
	}
	return 0, false
}

// add appends the blob d with contents data, which the caller verified.
func (p *PackWriter) add(d Digest, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if _, ok := p.sizes[d]; ok {
		return nil
	}
	if p.f == nil {
		f, err := p.s.tempFile()
		if err != nil {
			p.err = err
			return err
		}
		p.f, p.w, p.off = f, bufio.NewWriterSize(f, 1<<20), int64(len(packMagic))
		if _, err := p.w.WriteString(packMagic); err != nil {
			return p.fail(err)
		}
	}
	if _, err := p.w.Write(data); err != nil {
		return p.fail(err)
	}
	p.entries = append(p.entries, packEntry{digest: d, off: p.off, size: int64(len(data))})
	p.sizes[d] = int64(len(data))
	p.off += int64(len(data))
	if p.off >= p.maxSize {
		return p.commitLocked()
	}
	return nil
}

// fail records err as the writer's failure and removes the temp file.
func (p *PackWriter) fail(err error) error {
	if p.f != nil {
		abandon(p.f)
		p.f = nil
	}
	p.err = fmt.Errorf("write pack: %w", err)
	return p.err
}

// Commit renames the pack into place and makes its blobs readable. A
// writer that received no blob writes nothing. The writer can take more
// blobs afterwards, which go into a new pack.
func (p *PackWriter) Commit() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	return p.commitLocked()
}

func (p *PackWriter) commitLocked() error {
	if p.f == nil {
		return nil
	}
	tail := encodePackTail(p.entries, p.off)
	if _, err := p.w.Write(tail); err != nil {
		return p.fail(err)
	}
	if err := p.w.Flush(); err != nil {
		return p.fail(err)
	}
	// The pack is named after its index, which names every blob it holds
	// and where: two packs of the same name hold the same blobs.
	sum := blake3.Sum256(tail)
	name := filepath.Join(p.s.packsDir(), fmt.Sprintf("%x.pack", sum[:16]))
	tmp := p.f
	p.f = nil
	entries := p.entries
	p.entries, p.off = nil, 0
	if err := p.s.commit(tmp, name); err != nil {
		p.err = err
		return err
	}
	p.s.addPack(&packFile{name: filepath.Base(name), path: name, entries: entries})
	return nil
}

// Abort removes the pack's temp file, dropping every blob not committed.
func (p *PackWriter) Abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		abandon(p.f)
		p.f = nil
	}
	p.entries = nil
}

// rewritePack replaces the pack pf by a new one holding the blobs for
// which keep is true, each verified first, and removes pf. It returns how
// many blobs, and how many bytes of them, are gone, counting those that
// failed verification. With dryRun it only counts. When keep is true for
// every blob, pf stays as it is.
func (s *Store) rewritePack(pf *packFile, keep func(Digest) bool, dryRun bool) (int, int64, error) {
	var retained []packEntry
	n, bytes := 0, int64(0) // blobs dropped, and their bytes
	for _, e := range pf.entries {
		if keep(e.digest) {
			retained = append(retained, e)
			continue
		}
		n++
		bytes += e.size
	}
	if n == 0 {
		return 0, 0, nil
	}
	if dryRun {
		return n, bytes, nil
	}

	if len(retained) > 0 {
		f, err := os.Open(pf.path)
		if err != nil {
			return 0, 0, fmt.Errorf("rewrite pack %s: %w", pf.name, err)
		}
		defer f.Close()
		w := s.NewPackWriter()
		for _, e := range retained {
			data := make([]byte, e.size)
			if _, err := f.ReadAt(data, e.off); err != nil || SumBytes(data) != e.digest {
				n++
				bytes += e.size
				continue
			}
			if err := w.add(e.digest, data); err != nil {
				w.Abort()
				return 0, 0, err
			}
		}
		if err := w.Commit(); err != nil {
			return 0, 0, err
		}
	}

	err := os.Remove(filepath.Join(s.packsDir(), pf.name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, 0, fmt.Errorf("remove pack %s: %w", pf.name, err)
	}
	s.packs.mu.Lock()
	if s.packs.files[pf.name] == pf {
		s.dropPackLocked(pf)
	}
	s.packs.mu.Unlock()
	return n, bytes, nil
}

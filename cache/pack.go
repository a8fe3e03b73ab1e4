package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A pack is one file under packs/ that holds many small blobs, so that a
// build storing ten thousand source files creates one file, not ten
// thousand. Packs are written whole and renamed into place like any
// entry, and never change afterwards. Garbage collection writes a new
// pack of the blobs it keeps. Every read of a packed blob verifies its
// digest, as for a loose one.
//
// Layout, integers little-endian:
//
//	magic    "MLBPACK1"
//	blobs    the blobs' bytes, one after another
//	index    count entries of digest (32 bytes), offset (8), size (8),
//	         sorted by digest
//	trailer  index offset (8), count (8), CRC-32C of the index (4),
//	         4 zero bytes, magic "MLBPACK1"
const packMagic = "MLBPACK1"

// Sizes in bytes: a digest, an index entry and the trailer.
const (
	digestSize      = 32
	packEntrySize   = digestSize + 8 + 8
	packTrailerSize = 8 + 8 + 4 + 4 + 8
)

// PackBlobMax is the largest blob a pack takes; larger ones are stored
// loose, where a restore can clone them.
const PackBlobMax = 1 << 20

// packMaxSize is the size past which a pack writer starts a new pack, so
// that rewriting one in garbage collection stays small.
const packMaxSize = 256 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A digest is digestSize bytes.
var _ Digest = [digestSize]byte{}

// packEntry locates one blob in a pack.
type packEntry struct {
	digest Digest
	off    int64
	size   int64
}

// packFile is one pack the store has read the index of. The file is
// opened for each read, not kept open: a cache holds a pack per build
// that stored a source, and keeping them all open ran into the limit on
// open files.
type packFile struct {
	name    string
	path    string
	entries []packEntry // sorted by digest
}

// packedBlob is the location of a packed blob: its pack, offset and size.
type packedBlob struct {
	pack *packFile
	off  int64
	size int64
}

// packSet is the store's view of its packs, loaded on the first lookup
// that misses the loose blobs and refreshed when the packs folder changes.
type packSet struct {
	mu     sync.RWMutex
	loaded bool
	stamp  unix.Timespec // mtime of the packs folder when last listed
	files  map[string]*packFile
	blobs  map[Digest]packedBlob
}

// packsDir returns the folder the store's packs live in.
func (s *Store) packsDir() string { return filepath.Join(s.root, "packs") }

// packed returns where the blob d lives in a pack. It lists the packs
// folder again when the folder changed since the last listing, so packs
// that other processes wrote are found.
func (s *Store) packed(d Digest) (packedBlob, bool) {
	if b, ok := s.packedKnown(d); ok {
		return b, true
	}
	if !s.refreshPacks() {
		return packedBlob{}, false
	}
	return s.packedKnown(d)
}

// packedKnown looks d up among the packs already listed.
func (s *Store) packedKnown(d Digest) (packedBlob, bool) {
	s.packs.mu.RLock()
	defer s.packs.mu.RUnlock()
	b, ok := s.packs.blobs[d]
	return b, ok
}

// refreshPacks lists the packs folder when it changed since the last
// listing, reads the indexes of new packs and drops removed ones. It
// reports whether anything changed. A pack whose index cannot be read is
// skipped, so its blobs are misses, and garbage collection removes it.
func (s *Store) refreshPacks() bool {
	var st unix.Stat_t
	if err := unix.Stat(s.packsDir(), &st); err != nil {
		return false
	}
	s.packs.mu.Lock()
	defer s.packs.mu.Unlock()
	if s.packs.loaded && st.Mtim == s.packs.stamp {
		return false
	}
	entries, err := os.ReadDir(s.packsDir())
	if err != nil {
		return false
	}
	s.packs.loaded, s.packs.stamp = true, st.Mtim

	present := map[string]bool{}
	changed := false
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".pack") {
			continue
		}
		present[name] = true
		if s.packs.files[name] != nil {
			continue
		}
		pf, err := openPack(filepath.Join(s.packsDir(), name))
		if err != nil {
			continue
		}
		s.addPackLocked(pf)
		changed = true
	}
	for name, pf := range s.packs.files {
		if !present[name] {
			s.dropPackLocked(pf)
			changed = true
		}
	}
	return changed
}

// addPack makes the blobs of pf findable.
func (s *Store) addPack(pf *packFile) {
	s.packs.mu.Lock()
	defer s.packs.mu.Unlock()
	s.addPackLocked(pf)
}

// addPackLocked makes the blobs of pf findable. The caller holds
// s.packs.mu.
func (s *Store) addPackLocked(pf *packFile) {
	if s.packs.files == nil {
		s.packs.files = map[string]*packFile{}
		s.packs.blobs = map[Digest]packedBlob{}
	}
	if old := s.packs.files[pf.name]; old != nil {
		s.dropPackLocked(old)
	}
	s.packs.files[pf.name] = pf
	for _, e := range pf.entries {
		s.packs.blobs[e.digest] = packedBlob{pack: pf, off: e.off, size: e.size}
	}
}

// dropPackLocked removes pf from the packs the store looks in. Its blobs
// that another pack also contains stay findable there.
func (s *Store) dropPackLocked(pf *packFile) {
	delete(s.packs.files, pf.name)
	for _, e := range pf.entries {
		if b, ok := s.packs.blobs[e.digest]; ok && b.pack == pf {
			delete(s.packs.blobs, e.digest)
		}
	}
	for _, other := range s.packs.files {
		for _, e := range other.entries {
			if _, ok := s.packs.blobs[e.digest]; !ok {
				s.packs.blobs[e.digest] = packedBlob{pack: other, off: e.off, size: e.size}
			}
		}
	}
}

// listPacks returns the packs the store has listed, after listing again.
func (s *Store) listPacks() []*packFile {
	s.refreshPacks()
	s.packs.mu.RLock()
	defer s.packs.mu.RUnlock()
	out := make([]*packFile, 0, len(s.packs.files))
	for _, pf := range s.packs.files {
		out = append(out, pf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// errBadPack is wrapped by the errors of packs whose trailer or index
// does not check out.
var errBadPack = errors.New("not a valid pack")

// openPack opens the pack at path and reads its index.
func openPack(path string) (*packFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	entries, err := readPackIndex(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pack %s: %w", path, err)
	}
	f.Close()
	return &packFile{name: filepath.Base(path), path: path, entries: entries}, nil
}

// readPackIndex reads and checks the trailer and index of the pack f.
func readPackIndex(f *os.File) ([]packEntry, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if size < int64(len(packMagic)+packTrailerSize) {
		return nil, fmt.Errorf("%w: %d bytes is too short", errBadPack, size)
	}
	var tr [packTrailerSize]byte
	if _, err := f.ReadAt(tr[:], size-packTrailerSize); err != nil {
		return nil, err
	}
	if string(tr[24:]) != packMagic {
		return nil, fmt.Errorf("%w: no trailer", errBadPack)
	}

	indexOff := int64(binary.LittleEndian.Uint64(tr[0:]))
	count := binary.LittleEndian.Uint64(tr[8:])
	sum := binary.LittleEndian.Uint32(tr[16:])
	dataEnd := size - packTrailerSize
	if count > uint64(dataEnd)/packEntrySize || indexOff != dataEnd-int64(count)*packEntrySize || indexOff < int64(len(packMagic)) {
		return nil, fmt.Errorf("%w: index of %d entries at %d does not fit", errBadPack, count, indexOff)
	}
	index := make([]byte, dataEnd-indexOff)
	if _, err := f.ReadAt(index, indexOff); err != nil {
		return nil, err
	}
	if crc32.Checksum(index, castagnoli) != sum {
		return nil, fmt.Errorf("%w: index checksum differs", errBadPack)
	}
	return decodePackIndex(index, indexOff)
}

// decodePackIndex decodes index, a checked pack index that starts at
// offset indexOff, and rejects entries outside the blobs before it.
func decodePackIndex(index []byte, indexOff int64) ([]packEntry, error) {
	entries := make([]packEntry, len(index)/packEntrySize)
	for i := range entries {
		b := index[i*packEntrySize:]
		copy(entries[i].digest[:], b[:digestSize])
		entries[i].off = int64(binary.LittleEndian.Uint64(b[digestSize:]))
		entries[i].size = int64(binary.LittleEndian.Uint64(b[digestSize+8:]))
		if e := entries[i]; e.off < int64(len(packMagic)) || e.size < 0 || e.size > indexOff-e.off {
			return nil, fmt.Errorf("%w: entry %s lies outside the blobs", errBadPack, e.digest)
		}
	}
	return entries, nil
}

// encodePackTail returns the index and trailer of a pack whose blobs
// entries locates and whose index starts at indexOff. It sorts entries.
func encodePackTail(entries []packEntry, indexOff int64) []byte {
	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].digest[:], entries[j].digest[:]) < 0 })
	b := make([]byte, len(entries)*packEntrySize, len(entries)*packEntrySize+packTrailerSize)
	for i, e := range entries {
		p := b[i*packEntrySize:]
		copy(p, e.digest[:])
		binary.LittleEndian.PutUint64(p[digestSize:], uint64(e.off))
		binary.LittleEndian.PutUint64(p[digestSize+8:], uint64(e.size))
	}
	var tr [packTrailerSize]byte
	binary.LittleEndian.PutUint64(tr[0:], uint64(indexOff))
	binary.LittleEndian.PutUint64(tr[8:], uint64(len(entries)))
	binary.LittleEndian.PutUint32(tr[16:], crc32.Checksum(b, castagnoli))
	copy(tr[24:], packMagic)
	return append(b, tr[:]...)
}

// readPacked returns the verified bytes of the packed blob d at b.
func (s *Store) readPacked(d Digest, b packedBlob) ([]byte, error) {
	f, err := os.Open(b.pack.path)
	if errors.Is(err, os.ErrNotExist) {
		// Removed by a collection since it was listed.
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	defer f.Close()
	data := make([]byte, b.size)
	if _, err := f.ReadAt(data, b.off); err != nil {
		return nil, fmt.Errorf("read blob %s from pack %s: %w", d, b.pack.name, err)
	}
	if got := SumBytes(data); got != d {
		s.dropPacked(b.pack, d)
		return nil, &CorruptError{What: "blob", Name: d.String(), Reason: "contents in pack " + b.pack.name + " hash to " + got.String()}
	}
	return data, nil
}

// dropPacked replaces the pack pf by one without the blob d, which failed
// verification, so that the next build stores a good copy. The other
// blobs of pf are verified and kept.
func (s *Store) dropPacked(pf *packFile, d Digest) {
	_, _, _ = s.rewritePack(pf, func(e Digest) bool { return e != d }, false)
	_ = s.newEpoch()
}

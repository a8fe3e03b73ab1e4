package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"iter"
	"os"
	"path/filepath"
	"strings"
)

// The index file contains the entries of an Index sorted by path, in one
// little-endian layout that loads in a single pass:
//
//	header   magic "mlbindex", version uint32, entry count uint32,
//	         total length of all paths uint64
//	entries  each: the number of leading bytes its path shares with the
//	         previous entry's (uvarint), the length of the rest (uvarint),
//	         the rest, then size, mtime, ctime (int64), inode (uint64),
//	         mode (uint32) and the digest (32 bytes)
//	trailer  CRC-32C of everything before it (uint32)
//
// Paths under one folder share most of their bytes, so with the
// shared-prefix coding most entries take little more than their 68 bytes
// of stat data and digest. The trailer makes a file torn by a crash, or
// damaged in any other way, load as an empty index.
const (
	indexMagic       = "mlbindex"
	indexHeaderSize  = len(indexMagic) + 4 + 4 + 8
	indexTrailerSize = 4
	indexFixedSize   = 8 + 8 + 8 + 8 + 4 + len(Digest{})
)

// indexVersion changes whenever the file layout, indexEntry or the digest
// algorithm does.
const indexVersion = 2

// maxIndexPath is the maximum length of one path in an index file, so that
// a bad header cannot make LoadIndex allocate without limit.
const maxIndexPath = 1 << 16

var indexCRCTable = crc32.MakeTable(crc32.Castagnoli)

var errIndexFormat = errors.New("invalid index file")

// encodeIndex returns the index file that contains entries, which must
// come in strictly increasing path order. n is an estimate of their number.
func encodeIndex(n int, entries iter.Seq2[string, indexEntry]) []byte {
	// Paths under one folder mostly share all but a few bytes.
	b := make([]byte, indexHeaderSize, indexHeaderSize+n*(indexFixedSize+16)+indexTrailerSize)
	copy(b, indexMagic)
	var count, pathLen uint64
	prev := ""
	for p, e := range entries {
		shared := commonPrefixLen(prev, p)
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(p)-shared))
		b = append(b, p[shared:]...)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Size))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Mtime))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Ctime))
		b = binary.LittleEndian.AppendUint64(b, e.Inode)
		b = binary.LittleEndian.AppendUint32(b, e.Mode)
		b = append(b, e.Digest[:]...)
		count++
		pathLen += uint64(len(p))
		prev = p
	}
	binary.LittleEndian.PutUint32(b[8:], indexVersion)
	binary.LittleEndian.PutUint32(b[12:], uint32(count))
	binary.LittleEndian.PutUint64(b[16:], pathLen)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, indexCRCTable))
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// decodeIndex parses an index file into its sorted paths and their entries.
// All the paths share one allocation.
func decodeIndex(data []byte) ([]string, []indexEntry, error) {
	// Check the whole file before decoding any of it.
	if len(data) < indexHeaderSize+indexTrailerSize || string(data[:len(indexMagic)]) != indexMagic {
		return nil, nil, errIndexFormat
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != indexVersion {
		return nil, nil, fmt.Errorf("unsupported index version %d, expected %d", v, indexVersion)
	}
	body := data[:len(data)-indexTrailerSize]
	if crc32.Checksum(body, indexCRCTable) != binary.LittleEndian.Uint32(data[len(body):]) {
		return nil, nil, errIndexFormat
	}
	count := uint64(binary.LittleEndian.Uint32(data[12:]))
	pathLen := binary.LittleEndian.Uint64(data[16:])
	if count > uint64(len(body))/(2+uint64(indexFixedSize)) || pathLen > count*maxIndexPath {
		return nil, nil, errIndexFormat
	}

	// Rebuild each path from its predecessor in prev, append it to joined,
	// and note where it ends.
	var joined strings.Builder
	joined.Grow(int(pathLen))
	ends := make([]int, count)
	entries := make([]indexEntry, count)
	var prev []byte
	rest := body[indexHeaderSize:]
	for i := range entries {
		shared, sharedWidth := binary.Uvarint(rest)
		if sharedWidth <= 0 || shared > uint64(len(prev)) {
			return nil, nil, errIndexFormat
		}
		suffix, suffixWidth := binary.Uvarint(rest[sharedWidth:])
		rest = rest[sharedWidth+max(suffixWidth, 0):]
		if suffixWidth <= 0 || suffix == 0 || suffix > maxIndexPath || uint64(len(rest)) < suffix+uint64(indexFixedSize) {
			return nil, nil, errIndexFormat
		}

		// Paths must strictly increase, or the binary search in lookup
		// would miss entries. So the new path extends the previous one, or
		// its first differing byte is greater.
		if i > 0 && shared < uint64(len(prev)) && rest[0] <= prev[shared] {
			return nil, nil, errIndexFormat
		}
		prev = append(prev[:shared], rest[:suffix]...)
		if len(prev) > maxIndexPath {
			return nil, nil, errIndexFormat
		}
		joined.Write(prev)
		ends[i] = joined.Len()
		rest = rest[suffix:]

		e := &entries[i]
		e.Size = int64(binary.LittleEndian.Uint64(rest))
		e.Mtime = int64(binary.LittleEndian.Uint64(rest[8:]))
		e.Ctime = int64(binary.LittleEndian.Uint64(rest[16:]))
		e.Inode = binary.LittleEndian.Uint64(rest[24:])
		e.Mode = binary.LittleEndian.Uint32(rest[32:])
		copy(e.Digest[:], rest[36:indexFixedSize])
		rest = rest[indexFixedSize:]
	}
	if len(rest) != 0 || uint64(joined.Len()) != pathLen {
		return nil, nil, errIndexFormat
	}

	s := joined.String()
	paths := make([]string, count)
	start := 0
	for i, end := range ends {
		paths[i] = s[start:end]
		start = end
	}
	return paths, entries, nil
}

// writeIndexFile writes the index file for entries at path through a
// temporary file and a rename, so a reader sees the old file or the new
// one.
func writeIndexFile(path string, n int, entries iter.Seq2[string, indexEntry]) error {
	data := encodeIndex(n, entries)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save file index: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".index-*")
	if err != nil {
		return fmt.Errorf("save file index: %w", err)
	}
	_, err = tmp.Write(data)
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save file index: %w", err)
	}
	return nil
}

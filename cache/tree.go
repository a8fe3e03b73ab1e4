package cache

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Tree is the manifest of a directory: every file, symlink and sub-folder
// under it, sorted by path. A directory's digest is the digest of its
// encoded tree, so a renamed, added, removed or re-moded file changes it.
type Tree struct {
	Entries []TreeEntry
}

// EntryKind is the type of a tree entry: file, folder or symlink.
type EntryKind byte

// The kinds of tree entries.
const (
	KindFile    EntryKind = 'f'
	KindDir     EntryKind = 'd'
	KindSymlink EntryKind = 'l'
)

// TreeEntry is one path under a directory. Path is slash-separated and
// relative to the directory. Perm holds the permission bits; Size and Digest
// are set for files, Target for symlinks.
type TreeEntry struct {
	Path   string
	Kind   EntryKind
	Perm   fs.FileMode
	Size   int64
	Digest Digest
	Target string
}

// PortablePerm reduces the permission bits perm to what clones of the
// same files under any umask have in common: 0755 when any execute bit
// is set, else 0644. A checkout under umask 002 makes files 0664, one
// under 022 makes them 0644, and both must give the same stage keys.
func PortablePerm(perm fs.FileMode) fs.FileMode {
	if perm&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// EncodePortable returns the encoding of t with the permission bits of
// every file and folder reduced by PortablePerm. Folder inputs are keyed,
// and source folders stored, in this form. It encodes t as it is, because
// a copy of a tree of 100,000 entries cost a build that hashed all of
// them a tenth of its CPU time.
func (t *Tree) EncodePortable() []byte { return t.encode(true) }

// PortableDigest returns the digest of EncodePortable's encoding.
func (t *Tree) PortableDigest() Digest { return SumBytes(t.EncodePortable()) }

// treeHeader starts every encoded tree; it changes with the format.
const treeHeader = "mlb-tree-v1\n"

// Encode returns the canonical encoding of t: one line per entry in path
// order, with paths and targets quoted so any byte in a name is safe.
func (t *Tree) Encode() []byte { return t.encode(false) }

// encode returns the canonical encoding of t, with the permission bits
// reduced by PortablePerm when portable is set.
func (t *Tree) encode(portable bool) []byte {
	// Appending in place of fmt.Fprintf makes a no-op build over a large
	// folder several times faster; the bytes are the same.
	b := make([]byte, 0, len(treeHeader)+len(t.Entries)*120)
	b = append(b, treeHeader...)
	for _, e := range t.Entries {
		switch e.Kind {
		case KindFile:
			b = append(b, "f "...)
			b = appendPerm(b, e.Perm, portable)
			b = append(b, ' ')
			b = strconv.AppendInt(b, e.Size, 10)
			b = append(b, ' ')
			b = hex.AppendEncode(b, e.Digest[:])
			b = append(b, ' ')
			b = appendQuoted(b, e.Path)
		case KindDir:
			b = append(b, "d "...)
			b = appendPerm(b, e.Perm, portable)
			b = append(b, ' ')
			b = appendQuoted(b, e.Path)
		case KindSymlink:
			b = append(b, "l "...)
			b = appendQuoted(b, e.Target)
			b = append(b, ' ')
			b = appendQuoted(b, e.Path)
		default:
			continue
		}
		b = append(b, '\n')
	}
	return b
}

// appendQuoted appends s as strconv.AppendQuote does. Most paths are
// printable ASCII without quotes or backslashes, which quoting leaves as
// they are, and for them it skips decoding s rune by rune.
func appendQuoted(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendPerm appends perm, reduced by PortablePerm when portable is set,
// in octal, zero-padded to at least four digits, as fmt's %04o prints it.
func appendPerm(b []byte, perm fs.FileMode, portable bool) []byte {
	if portable {
		perm = PortablePerm(perm)
	}
	var buf [24]byte
	digits := strconv.AppendUint(buf[:0], uint64(perm), 8)
	for i := len(digits); i < 4; i++ {
		b = append(b, '0')
	}
	return append(b, digits...)
}

// Digest returns the digest of the encoded tree.
func (t *Tree) Digest() Digest { return SumBytes(t.Encode()) }

// Size returns the total size of the files in t.
func (t *Tree) Size() int64 {
	var n int64
	for _, e := range t.Entries {
		n += e.Size
	}
	return n
}

// DecodeTree parses an encoded tree.
func DecodeTree(data []byte) (*Tree, error) {
	if !bytes.HasPrefix(data, []byte(treeHeader)) {
		return nil, fmt.Errorf("decode tree: missing %q header", strings.TrimSpace(treeHeader))
	}
	t := &Tree{}
	sc := bufio.NewScanner(bytes.NewReader(data[len(treeHeader):]))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		e, err := decodeTreeLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("decode tree line %d: %w", line, err)
		}
		t.Entries = append(t.Entries, e)
	}
	return t, sc.Err()
}

func decodeTreeLine(s string) (TreeEntry, error) {
	var e TreeEntry
	if len(s) < 2 {
		return e, fmt.Errorf("short line %q", s)
	}
	e.Kind = EntryKind(s[0])
	rest := s[2:]
	switch e.Kind {
	case KindFile:
		// Mode, size and digest contain no spaces, but the quoted path may.
		fields := strings.SplitN(rest, " ", 4)
		if len(fields) != 4 {
			return e, fmt.Errorf("file entry %q: want mode, size, digest and path", s)
		}
		perm, err := strconv.ParseUint(fields[0], 8, 32)
		if err != nil {
			return e, fmt.Errorf("file entry %q: mode: %w", s, err)
		}
		e.Size, err = strconv.ParseInt(fields[1], 10, 64)
		if err != nil || e.Size < 0 {
			return e, fmt.Errorf("file entry %q: invalid size", s)
		}
		if e.Digest, err = ParseDigest(fields[2]); err != nil {
			return e, err
		}
		e.Perm = fs.FileMode(perm)
		e.Path, err = strconv.Unquote(fields[3])
		return e, err
	case KindDir:
		permText, quoted, ok := strings.Cut(rest, " ")
		perm, err := strconv.ParseUint(permText, 8, 32)
		if !ok || err != nil {
			return e, fmt.Errorf("directory entry %q", s)
		}
		e.Perm = fs.FileMode(perm)
		e.Path, err = strconv.Unquote(quoted)
		return e, err
	case KindSymlink:
		target, tail, err := unquotePrefix(rest)
		if err != nil {
			return e, fmt.Errorf("symlink entry %q: %w", s, err)
		}
		e.Target = target
		e.Path, err = strconv.Unquote(strings.TrimPrefix(tail, " "))
		return e, err
	}
	return e, fmt.Errorf("unknown entry kind %q", s[0])
}

// unquotePrefix unquotes the Go string literal at the start of s and returns
// the rest of s after it.
func unquotePrefix(s string) (string, string, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	v, err := strconv.Unquote(q)
	return v, s[len(q):], err
}

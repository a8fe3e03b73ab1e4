package cache

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"
)

// PutVerified stores the bytes that r yields as the blob named want, for
// blobs that come from elsewhere, such as a remote cache. The bytes go to a
// temporary file while they are hashed and are renamed into place only
// when they hash to want and, when size is not negative, number exactly
// size. Otherwise PutVerified returns a *CorruptError and the store is
// unchanged. With a known size it reads at most size+1 bytes, so a source
// that sends too much is stopped early. It returns the number of bytes read.
func (s *Store) PutVerified(r io.Reader, want Digest, size int64) (int64, error) {
	tmp, err := s.tempFile()
	if err != nil {
		return 0, err
	}
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	h := blake3.New()
	buf := make([]byte, hashBufferSize)
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h), r, buf)
	if err != nil {
		abandon(tmp)
		return n, err
	}
	var got Digest
	h.Sum(got[:0])
	switch {
	case size >= 0 && n != size:
		abandon(tmp)
		return n, &CorruptError{What: "blob", Name: want.String(), Reason: fmt.Sprintf("%d bytes, want %d", n, size)}
	case got != want:
		abandon(tmp)
		return n, &CorruptError{What: "blob", Name: want.String(), Reason: "contents hash to " + got.String()}
	}
	return n, s.commit(tmp, s.BlobPath(want))
}

// EncodeAction returns r in the form PutAction stores it: zstd-compressed
// JSON with the current version and the outputs sorted by path.
func EncodeAction(r *ActionResult) ([]byte, error) {
	c := *r
	c.Version = actionVersion
	c.Outputs = append([]Output(nil), r.Outputs...)
	sort.Slice(c.Outputs, func(i, j int) bool { return c.Outputs[i].Path < c.Outputs[j].Path })
	return EncodeCompressed(&c)
}

// maxManifestSize bounds the decompressed size of an action result or run
// record from elsewhere. Both list outputs and params, and are a few
// kilobytes even for large pipelines. The bound stops a hostile or broken
// source from making mlb allocate without limit.
const maxManifestSize = 256 << 20

var limitedDecoder = newLimitedDecoder(maxManifestSize)

func newLimitedDecoder(limit uint64) *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(limit), zstd.WithDecoderConcurrency(1))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder options: %v", err))
	}
	return d
}

// DecodeCompressedLimited is DecodeCompressed for data from elsewhere, such
// as a remote cache: it fails on data that decompresses to more than
// maxManifestSize bytes.
func DecodeCompressedLimited(data []byte, v any) error {
	return decodeLimited(limitedDecoder, data, v)
}

func decodeLimited(d *zstd.Decoder, data []byte, v any) error {
	b, err := d.DecodeAll(data, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// DecodeAction parses an action result that EncodeAction made and checks
// that it is filed under k. Undecodable data, another version or another
// key is a *CorruptError.
func DecodeAction(data []byte, k ActionKey) (*ActionResult, error) {
	var r ActionResult
	if err := DecodeCompressedLimited(data, &r); err != nil {
		return nil, &CorruptError{What: "action result", Name: k.String(), Reason: err.Error()}
	}
	if r.Version != actionVersion || r.Key != k {
		return nil, &CorruptError{What: "action result", Name: k.String(), Reason: "wrong version or key"}
	}
	return &r, nil
}

// OutputBlobs returns every blob that outputs name: each file, each
// directory's tree and the files the tree lists, each once. The trees must
// be in the store.
func (s *Store) OutputBlobs(outputs []Output) ([]Digest, error) {
	seen := map[Digest]bool{}
	var out []Digest
	add := func(d Digest) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, o := range outputs {
		add(o.Digest)
		if o.Kind != KindDir {
			continue
		}
		data, err := s.ReadBlob(o.Digest)
		if err != nil {
			return nil, fmt.Errorf("list blobs of %s: %w", o.Path, err)
		}
		t, err := DecodeTree(data)
		if err != nil {
			return nil, fmt.Errorf("list blobs of %s: %w", o.Path, err)
		}
		for _, e := range t.Entries {
			if e.Kind == KindFile {
				add(e.Digest)
			}
		}
	}
	return out, nil
}

// Validate checks that restoring t cannot write outside its folder: every
// path is relative and clean, no path appears twice, every entry's parent
// folder is a directory entry listed before it, and so no entry lies
// beneath a symlink. ScanTree only makes valid trees; Validate is for
// trees from elsewhere. Symlink targets are not checked, because a stage
// may link to any place, and restoring a link writes nothing through it.
func (t *Tree) Validate() error {
	dirs := map[string]bool{}
	prev := ""
	for i, e := range t.Entries {
		if !validTreePath(e.Path) {
			return fmt.Errorf("tree entry %q leaves its directory", e.Path)
		}
		if i > 0 && e.Path <= prev {
			return fmt.Errorf("tree entry %q is out of order or repeated", e.Path)
		}
		prev = e.Path
		if parent := parentOf(e.Path); parent != "" && !dirs[parent] {
			return fmt.Errorf("tree entry %q is not inside a listed directory", e.Path)
		}
		switch e.Kind {
		case KindDir:
			dirs[e.Path] = true
		case KindFile:
			if e.Size < 0 {
				return fmt.Errorf("tree entry %q has a negative size", e.Path)
			}
		case KindSymlink:
		default:
			return fmt.Errorf("tree entry %q has unknown kind %q", e.Path, e.Kind)
		}
	}
	return nil
}

func parentOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return ""
}

package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ActionResult is the result of one execution of a stage. It is filed under
// the stage's ActionKey and written only after every blob it names is in the
// store.
type ActionResult struct {
	Version  int             `json:"version"`
	Key      ActionKey       `json:"key"`
	Stage    string          `json:"stage"`
	Outputs  []Output        `json:"outputs"`
	Metrics  json.RawMessage `json:"metrics,omitempty"`
	Log      Digest          `json:"log"`
	ExitCode int             `json:"exit_code"`
	Duration time.Duration   `json:"duration_ns"`
	Created  time.Time       `json:"created"`
}

// Output is one declared output of a stage as stored. For a file, Digest
// names its contents; for a directory it names the encoded Tree, which is a
// blob too.
type Output struct {
	Name   string      `json:"name"`
	Path   string      `json:"path"`
	Kind   EntryKind   `json:"kind"`
	Perm   fs.FileMode `json:"perm"`
	Size   int64       `json:"size"`
	Digest Digest      `json:"digest"`
}

// actionVersion changes whenever ActionResult's meaning does.
const actionVersion = 1

var (
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	zstdDecoder, _ = zstd.NewReader(nil)
)

// splitCompressMin is the JSON size from which EncodeCompressed splits
// the data into one zstd frame per core. The run record of a build of
// 1,000 stages is about 4 MB of JSON.
const splitCompressMin = 1 << 20

// EncodeCompressed returns v as zstd-compressed JSON. Large data becomes
// several frames, compressed at once on several cores; a zstd reader
// decodes concatenated frames as one stream.
func EncodeCompressed(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return compressSplit(b), nil
}

// compressSplit compresses b, in one frame per core when b is large.
func compressSplit(b []byte) []byte {
	n := runtime.GOMAXPROCS(0)
	if len(b) < splitCompressMin || n < 2 {
		return zstdEncoder.EncodeAll(b, nil)
	}
	frames := make([][]byte, n)
	size := (len(b) + n - 1) / n
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := min(i*size, len(b)), min((i+1)*size, len(b))
		wg.Add(1)
		go func() {
			defer wg.Done()
			frames[i] = zstdEncoder.EncodeAll(b[lo:hi], nil)
		}()
	}
	wg.Wait()
	return bytes.Join(frames, nil)
}

// DecodeCompressed parses zstd-compressed JSON into v.
func DecodeCompressed(data []byte, v any) error {
	b, err := zstdDecoder.DecodeAll(data, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (s *Store) actionPath(k ActionKey) string {
	h := k.String()
	return filepath.Join(s.root, "actions", h[:2], h)
}

// PutAction files r under r.Key. Call it only after every blob r names is
// stored: a reader that finds the action result relies on them.
func (s *Store) PutAction(r *ActionResult) error {
	r.Version = actionVersion
	sort.Slice(r.Outputs, func(i, j int) bool { return r.Outputs[i].Path < r.Outputs[j].Path })
	data, err := EncodeCompressed(r)
	if err != nil {
		return fmt.Errorf("store action result for %s: %w", r.Stage, err)
	}
	if err := s.writeEntry(s.actionPath(r.Key), data); err != nil {
		return fmt.Errorf("store action result for %s: %w", r.Stage, err)
	}
	return nil
}

// HasAction reports whether a result is filed under k. It does not read it.
func (s *Store) HasAction(k ActionKey) bool {
	_, err := os.Stat(s.actionPath(k))
	return err == nil
}

// GetAction returns the action result filed under k. A missing result
// returns an error wrapping ErrNotFound; an unreadable one a *CorruptError,
// and it is removed. Neither means the caller did anything wrong: both are
// misses.
func (s *Store) GetAction(k ActionKey) (*ActionResult, error) {
	data, err := os.ReadFile(s.actionPath(k))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("action %s: %w", k, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read action %s: %w", k, err)
	}
	var r ActionResult
	if err := DecodeCompressed(data, &r); err != nil || r.Version != actionVersion || r.Key != k {
		_ = os.Remove(s.actionPath(k))
		_ = s.newEpoch()
		reason := "wrong version or key"
		if err != nil {
			reason = err.Error()
		}
		return nil, &CorruptError{What: "action result", Name: k.String(), Reason: reason}
	}
	return &r, nil
}

// MissingBlobs returns the digests that r needs and the store lacks,
// including the files listed in each directory output's tree.
func (s *Store) MissingBlobs(r *ActionResult) []Digest {
	return s.MissingFor(r.Outputs)
}

// MissingFor returns the digests that restoring outputs needs and the store
// lacks, including the files listed in each directory's tree.
func (s *Store) MissingFor(outputs []Output) []Digest {
	var missing []Digest
	for _, o := range outputs {
		if !s.HasBlob(o.Digest) {
			missing = append(missing, o.Digest)
			continue
		}
		if o.Kind != KindDir {
			continue
		}
		data, err := s.ReadBlob(o.Digest)
		if err != nil {
			missing = append(missing, o.Digest)
			continue
		}
		t, err := DecodeTree(data)
		if err != nil {
			missing = append(missing, o.Digest)
			continue
		}
		for _, e := range t.Entries {
			if e.Kind == KindFile && !s.HasBlob(e.Digest) {
				missing = append(missing, e.Digest)
			}
		}
	}
	return missing
}

package engine

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mlbuild/mlb/cache"
)

// memoFile holds what the workspace's last build found in the cache: the
// action result each stage matched and the source blobs it stored. A no-op
// build of a large graph would otherwise open, decompress and decode one
// action result per stage, and a build that ran a few stages would stat
// every source blob again.
const memoFile = "results.bin"

// memoVersion changes whenever memoData or its meaning does.
const memoVersion = "mlb-result-memo-v3"

// memoData is the memo as it is stored.
type memoData struct {
	Epoch   string // the cache's collection epoch when it was written
	Results []*cache.ActionResult
	Sources map[cache.Digest]int64 // stored source blobs and their sizes
}

// resultMemo is the memo as one build loaded it. Its maps are only read
// while stages run.
type resultMemo struct {
	epoch   string // the cache's collection epoch now
	trusted bool   // no collection ran since the memo was written
	results map[cache.ActionKey]*cache.ActionResult
	sources map[cache.Digest]int64
}

func (w *Workspace) memoPath() string {
	return filepath.Join(w.Root, StateDir, memoFile)
}

// loadMemo reads the memo; a missing or unreadable one is empty.
func (w *Workspace) loadMemo() *resultMemo {
	m := &resultMemo{epoch: w.Store.Epoch(), results: map[cache.ActionKey]*cache.ActionResult{}, sources: map[cache.Digest]int64{}}
	raw, err := os.ReadFile(w.memoPath())
	if err != nil {
		return m
	}
	if raw, err = unseal(raw); err != nil {
		return m
	}
	data, err := decodeMemo(raw)
	if err != nil {
		return m
	}
	for _, r := range data.Results {
		m.results[r.Key] = r
	}
	m.trusted = data.Epoch == m.epoch
	if m.trusted && data.Sources != nil {
		m.sources = data.Sources
	}
	return m
}

// get returns the memo's result for key. After a garbage collection it
// first checks that the cache still files a result under key, so that a
// collected result is not used.
func (m *resultMemo) get(store *cache.Store, key cache.ActionKey) *cache.ActionResult {
	ar := m.results[key]
	if ar == nil || (!m.trusted && !store.HasAction(key)) {
		return nil
	}
	return ar
}

// storedSource returns the size of the source blob d when the last build
// stored it and no collection ran since.
func (m *resultMemo) storedSource(d cache.Digest) (int64, bool) {
	size, ok := m.sources[d]
	return size, ok
}

// saveMemo writes the memo back with the results this build's stages used
// in place of the ones it held for those stages, and the sources this
// build stored. Stages the build did not select keep their entries; stages
// no longer in the graph lose them.
func (w *Workspace) saveMemo(m *resultMemo, g *Graph, runs []*StageRun, sources []cache.Output) error {
	byStage := make(map[string]*cache.ActionResult, len(m.results))
	for _, ar := range m.results {
		byStage[ar.Stage] = ar
	}
	changed := !m.trusted
	for _, r := range runs {
		if r.result != nil && byStage[r.Name] != r.result {
			byStage[r.Name] = r.result
			changed = true
		}
	}
	data := memoData{Epoch: m.epoch, Sources: m.sources}
	if sources != nil {
		data.Sources = make(map[cache.Digest]int64, len(sources))
		for _, o := range sources {
			data.Sources[o.Digest] = o.Size
			if size, ok := m.sources[o.Digest]; !ok || size != o.Size {
				changed = true
			}
		}
		if len(data.Sources) != len(m.sources) {
			changed = true
		}
	}
	if !changed {
		return nil
	}
	for _, s := range g.Stages {
		if ar := byStage[s.Name]; ar != nil {
			data.Results = append(data.Results, ar)
		}
	}

	tmp, err := os.CreateTemp(filepath.Dir(w.memoPath()), ".results-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(seal(data.encode()))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), w.memoPath())
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// encode returns the memo in its stored form, version first.
func (m *memoData) encode() []byte {
	e := &encoder{buf: make([]byte, 0, 256*len(m.Results)+48*len(m.Sources)+64)}
	e.str(memoVersion)
	e.str(m.Epoch)
	e.uint(uint64(len(m.Results)))
	for _, r := range m.Results {
		e.int(int64(r.Version))
		e.raw(r.Key[:])
		e.str(r.Stage)
		e.uint(uint64(len(r.Outputs)))
		for _, o := range r.Outputs {
			e.str(o.Name)
			e.str(o.Path)
			e.uint(uint64(o.Kind))
			e.uint(uint64(o.Perm))
			e.int(o.Size)
			e.raw(o.Digest[:])
		}
		e.str(string(r.Metrics))
		e.raw(r.Log[:])
		e.int(int64(r.ExitCode))
		e.int(int64(r.Duration))
		created := int64(0) // the zero time
		if !r.Created.IsZero() {
			created = r.Created.UnixNano()
		}
		e.int(created)
	}
	e.uint(uint64(len(m.Sources)))
	for d, size := range m.Sources {
		e.raw(d[:])
		e.int(size)
	}
	return e.buf
}

// decodeMemo parses a stored memo. Its strings share raw's memory.
func decodeMemo(raw []byte) (*memoData, error) {
	d := &decoder{data: raw}
	if d.str() != memoVersion {
		return nil, errBadEncoding
	}
	m := &memoData{Epoch: d.str()}
	m.Results = make([]*cache.ActionResult, d.count())
	for i := range m.Results {
		r := &cache.ActionResult{Version: int(d.int())}
		d.raw(r.Key[:])
		r.Stage = d.str()
		r.Outputs = make([]cache.Output, d.count())
		for k := range r.Outputs {
			o := &r.Outputs[k]
			o.Name, o.Path = d.str(), d.str()
			o.Kind = cache.EntryKind(d.uint())
			o.Perm = fs.FileMode(d.uint())
			o.Size = d.int()
			d.raw(o.Digest[:])
		}
		if metrics := d.str(); metrics != "" {
			r.Metrics = json.RawMessage(metrics)
		}
		d.raw(r.Log[:])
		r.ExitCode = int(d.int())
		r.Duration = time.Duration(d.int())
		if created := d.int(); created != 0 {
			r.Created = time.Unix(0, created).UTC()
		}
		m.Results[i] = r
	}
	n := d.count()
	m.Sources = make(map[cache.Digest]int64, n)
	for range n {
		var k cache.Digest
		d.raw(k[:])
		m.Sources[k] = d.int()
	}
	if d.err != nil || len(d.data) != 0 {
		return nil, errBadEncoding
	}
	return m, nil
}

package engine

import (
	"bufio"
	"encoding/gob"
	"os"
	"path/filepath"

	"github.com/mlbuild/mlb/cache"
)

// memoFile holds the action results that the workspace's last build used,
// by stage key. A no-op build of a large graph would otherwise open,
// decompress and decode one action result per stage; with the memo it
// only checks that each result is still in the cache.
const memoFile = "results.gob"

// memoVersion changes whenever the memo's encoding or meaning does.
const memoVersion = "mlb-result-memo-v1"

// resultMemo is the memo as one build loaded it. Its map is only read
// while stages run.
type resultMemo struct {
	results map[cache.ActionKey]*cache.ActionResult
}

func (w *Workspace) memoPath() string {
	return filepath.Join(w.Root, StateDir, memoFile)
}

// loadMemo reads the memo; a missing or unreadable one is empty.
func (w *Workspace) loadMemo() *resultMemo {
	m := &resultMemo{results: map[cache.ActionKey]*cache.ActionResult{}}
	f, err := os.Open(w.memoPath())
	if err != nil {
		return m
	}
	defer f.Close()
	dec := gob.NewDecoder(bufio.NewReaderSize(f, 1<<16))
	var version string
	var results []*cache.ActionResult
	if dec.Decode(&version) != nil || version != memoVersion || dec.Decode(&results) != nil {
		return m
	}
	for _, r := range results {
		m.results[r.Key] = r
	}
	return m
}

// get returns the memo's result for key when the cache still files a
// result under key, so that a collected result is not used from the memo.
func (m *resultMemo) get(store *cache.Store, key cache.ActionKey) *cache.ActionResult {
	ar := m.results[key]
	if ar == nil || !store.HasAction(key) {
		return nil
	}
	return ar
}

// saveMemo writes the memo back with the results this build's stages
// used in place of the ones it held for those stages. Stages the build did
// not select keep their entries; stages no longer in the graph lose them.
func (w *Workspace) saveMemo(m *resultMemo, g *Graph, runs []*StageRun) error {
	byStage := make(map[string]*cache.ActionResult, len(m.results))
	for _, ar := range m.results {
		byStage[ar.Stage] = ar
	}
	changed := false
	for _, r := range runs {
		if r.result != nil && byStage[r.Name] != r.result {
			byStage[r.Name] = r.result
			changed = true
		}
	}
	if !changed {
		return nil
	}
	results := make([]*cache.ActionResult, 0, len(g.Stages))
	for _, s := range g.Stages {
		if ar := byStage[s.Name]; ar != nil {
			results = append(results, ar)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(w.memoPath()), ".results-*")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(tmp, 1<<16)
	enc := gob.NewEncoder(bw)
	err = enc.Encode(memoVersion)
	if err == nil {
		err = enc.Encode(results)
	}
	if err == nil {
		err = bw.Flush()
	}
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

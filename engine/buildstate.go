package engine

import (
	"sync"

	"github.com/mlbuild/mlb/cache"
)

// buildState is the state the stages of one build share: the last-built
// state, loaded when first needed, the memo of action results, and the
// outputs of the stages that finished.
type buildState struct {
	last    *lazyLastBuilt
	memo    *resultMemo
	sources *earlySources // sources of stages that ran, stored during the build

	mu       sync.Mutex
	produced map[string]Input // file outputs of finished stages, by path
}

func newBuildState(w *Workspace, g *Graph) *buildState {
	memo := w.loadMemo()
	return &buildState{last: &lazyLastBuilt{w: w}, memo: memo, sources: newEarlySources(w, g, memo), produced: map[string]Input{}}
}

// finished records the file outputs of a stage that is now up to date.
// The stages that read them then take their state from the result in
// place of a stat and an index lookup each. A stage's outputs are read by
// several dependants, and they were just checked, restored or written.
func (b *buildState) finished(r *StageRun) {
	switch r.State {
	case StateExecuted, StateRestored, StateUpToDate:
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range r.Outputs {
		if o.Kind == cache.KindFile {
			b.produced[o.Path] = Input{Path: o.Path, Kind: o.Kind, Perm: o.Perm, Digest: o.Digest}
		}
	}
}

// inputState wraps next, the usual way to find an input's state, with the
// outputs of finished stages.
func (b *buildState) inputState(next func(path string) (Input, error)) func(path string) (Input, error) {
	return func(path string) (Input, error) {
		b.mu.Lock()
		in, ok := b.produced[path]
		b.mu.Unlock()
		if ok {
			return in, nil
		}
		return next(path)
	}
}

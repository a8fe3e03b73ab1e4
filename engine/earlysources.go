package engine

import (
	"fmt"
	"io/fs"
	"sync"

	"github.com/mlbuild/mlb/cache"
)

// earlySources stores the source inputs of stages that run, on one
// goroutine, while the build goes on. storeSources, at the end of the
// build, then finds most sources stored already. On a first build of many
// stages the sources are most of what the cache receives, and storing
// them afterwards adds their whole cost to the build's wall time, while
// during the build they fill the gaps between stage commands.
//
// One goroutine is enough to fill those gaps without slowing the stages
// down; storeSources stores what is left on more.
type earlySources struct {
	w        *Workspace
	produced map[string]bool // outputs of the graph's stages, by path
	memo     *resultMemo
	pack     *cache.PackWriter // the pack of small source files

	mu      sync.Mutex
	seen    map[string]bool
	queue   []pendingSource
	working bool
	idle    *sync.Cond
	stored  map[string]cache.Output // by path
	err     error                   // the first failure
}

// pendingSource is a source input to store and the stage that read it,
// for messages.
type pendingSource struct {
	in    Input
	stage string
}

func newEarlySources(w *Workspace, g *Graph, memo *resultMemo) *earlySources {
	e := &earlySources{w: w, produced: producedPaths(g), memo: memo, pack: w.Store.NewPackWriter(), seen: map[string]bool{}, stored: map[string]cache.Output{}}
	e.idle = sync.NewCond(&e.mu)
	return e
}

// producedPaths returns the output paths of g's stages.
func producedPaths(g *Graph) map[string]bool {
	produced := map[string]bool{}
	if g == nil {
		return produced
	}
	for _, s := range g.Stages {
		for _, o := range s.Outputs {
			produced[o.Path] = true
		}
	}
	return produced
}

// isSource reports whether path is read from the workspace as it is, not
// written by a stage of the graph.
func (e *earlySources) isSource(path string) bool {
	return !e.produced[path] && !insideProduced(path, e.produced)
}

// add queues the sources among the inputs of stage that are neither in
// the memo nor queued by an earlier call.
func (e *earlySources) add(stage string, parts *KeyParts) {
	if e == nil || parts == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, in := range parts.Inputs {
		if e.seen[in.Path] || !e.isSource(in.Path) {
			continue
		}
		e.seen[in.Path] = true
		if _, ok := e.memo.storedSource(in.Digest); ok {
			continue
		}
		e.queue = append(e.queue, pendingSource{in, stage})
	}
	if len(e.queue) > 0 && !e.working {
		e.working = true
		go e.work()
	}
}

func (e *earlySources) work() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.queue) > 0 && e.err == nil {
		p := e.queue[0]
		e.queue = e.queue[1:]
		e.mu.Unlock()
		out, err := e.w.storeSource(p.in, e.pack, !e.memo.trusted)
		e.mu.Lock()
		if err != nil {
			e.err = fmt.Errorf("store source input %s of stage %s: %w", p.in.Path, p.stage, err)
			continue
		}
		e.stored[p.in.Path] = out
	}
	e.queue = nil
	e.working = false
	e.idle.Broadcast()
}

// finish drops what is still queued, which storeSources stores on more
// goroutines, waits for the source being stored, and returns the sources
// stored, by path, and the first error.
func (e *earlySources) finish() (map[string]cache.Output, error) {
	if e == nil {
		return nil, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue = nil
	for e.working {
		e.idle.Wait()
	}
	return e.stored, e.err
}

// abort drops the sources packed but not committed.
func (e *earlySources) abort() {
	if e != nil {
		e.pack.Abort()
	}
}

// hashAndPack hashes the source file at abs, the workspace path path with
// stat data fi, and packs the bytes it hashed, when it is a small regular
// file that no stage writes. It reports false, having done nothing, for
// anything else, and on any error, which hashing the file again reports.
// A source is then read once, not once to hash and once to store: a
// first build of 1,000 stages reads 10,000 sources.
func (e *earlySources) hashAndPack(path, abs string, fi fs.FileInfo) (cache.Digest, bool) {
	if e == nil || !fi.Mode().IsRegular() || fi.Size() > cache.PackBlobMax || !e.isSource(path) {
		return cache.Digest{}, false
	}
	d, err := e.pack.PutRead(abs)
	if err != nil {
		return cache.Digest{}, false
	}
	return d, true
}

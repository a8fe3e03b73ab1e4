package engine

import (
	"fmt"
	"os"
	"sort"

	"github.com/mlbuild/mlb/cache"
)

// storeSources puts every source input of the run into the store: each
// input of a stage that no stage of the graph produces, such as raw data
// and scripts. With them and the pipeline file in the store, a run can be
// reproduced from its hash alone on any machine that shares the cache.
// It returns the sources sorted by path.
func (w *Workspace) storeSources(g *Graph, runs []*StageRun) ([]cache.Output, error) {
	produced := map[string]bool{}
	for _, s := range g.Stages {
		for _, o := range s.Outputs {
			produced[o.Path] = true
		}
	}
	seen := map[string]bool{}
	var sources []cache.Output
	for _, r := range runs {
		if r.Parts == nil {
			continue
		}
		for _, name := range sortedKeys(r.Parts.Inputs) {
			in := r.Parts.Inputs[name]
			if seen[in.Path] || produced[in.Path] || insideProduced(in.Path, produced) {
				continue
			}
			seen[in.Path] = true
			out, err := w.storeSource(in)
			if err != nil {
				return nil, fmt.Errorf("store source input %s of stage %s: %w", in.Path, r.Name, err)
			}
			sources = append(sources, out)
		}
	}
	sort.Slice(sources, func(i, j int) bool { return sources[i].Path < sources[j].Path })
	return sources, nil
}

func (w *Workspace) storeSource(in Input) (cache.Output, error) {
	out := cache.Output{Name: in.Path, Path: in.Path, Kind: in.Kind, Perm: in.Perm, Digest: in.Digest}
	if in.Kind == cache.KindFile && w.Store.HasBlob(in.Digest) {
		fi, err := os.Stat(w.Abs(in.Path))
		if err != nil {
			return out, err
		}
		out.Size = fi.Size()
		return out, nil
	}
	// A folder's tree is stored after every file it lists, so a stored
	// tree means a stored folder.
	if in.Kind == cache.KindDir && w.Store.HasBlob(in.Digest) {
		return out, nil
	}
	stored, err := w.Store.StoreOutput(in.Path, in.Path, w.Abs(in.Path), w.Index)
	if err != nil {
		return out, err
	}
	if stored.Digest != in.Digest {
		return out, fmt.Errorf("it changed during the build (digest %s, was %s)", stored.Digest, in.Digest)
	}
	return stored, nil
}

func insideProduced(p string, produced map[string]bool) bool {
	for dir := parentDir(p); dir != ""; dir = parentDir(dir) {
		if produced[dir] {
			return true
		}
	}
	return false
}

package engine

import (
	"fmt"
	"path/filepath"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/mlbuild/mlb/cache"
)

// sourceWriters bounds how many source inputs are stored at once. Storing
// small files waits on the file system more than on the CPU, so it
// exceeds the core count.
const sourceWriters = 8

// storeSources puts every source input of the run into the store: each
// input of a stage that no stage of the graph produces, such as raw data
// and scripts. With them and the pipeline file in the store, a run can be
// reproduced from its hash alone on any machine that shares the cache.
// It returns the sources sorted by path.
func (w *Workspace) storeSources(runs []*StageRun, memo *resultMemo, early *earlySources) ([]cache.Output, error) {
	done, err := early.finish()
	if err != nil {
		return nil, err
	}
	pack := w.Store.NewPackWriter()
	if early != nil {
		pack = early.pack
	}
	// Collect each source once, then store, on several goroutines, the ones
	// that neither early nor the memo has stored.
	seen := map[string]bool{}
	var todo []pendingSource
	for _, r := range runs {
		if r.Parts == nil {
			continue
		}
		for _, name := range sortedKeys(r.Parts.Inputs) {
			in := r.Parts.Inputs[name]
			if seen[in.Path] || !early.isSource(in.Path) {
				continue
			}
			seen[in.Path] = true
			todo = append(todo, pendingSource{in, r.Name})
		}
	}
	sources := make([]cache.Output, len(todo))
	var eg errgroup.Group
	eg.SetLimit(sourceWriters)
	for i, p := range todo {
		if out, ok := done[p.in.Path]; ok && out.Digest == p.in.Digest {
			sources[i] = out
			continue
		}
		if size, ok := memo.storedSource(p.in.Digest); ok {
			sources[i] = cache.Output{Name: p.in.Path, Path: p.in.Path, Kind: p.in.Kind, Perm: p.in.Perm, Digest: p.in.Digest, Size: size}
			continue
		}
		eg.Go(func() error {
			out, err := w.storeSource(p.in, pack, !memo.trusted)
			if err != nil {
				return fmt.Errorf("store source input %s of stage %s: %w", p.in.Path, p.stage, err)
			}
			sources[i] = out
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		pack.Abort()
		return nil, err
	}
	if err := pack.Commit(); err != nil {
		return nil, fmt.Errorf("store source inputs: %w", err)
	}
	sort.Slice(sources, func(i, j int) bool { return sources[i].Path < sources[j].Path })
	return sources, nil
}

// storeSource stores the source input in: small files and folder trees
// into pack, which the caller commits, anything else loose. With deep
// set, as after a collection or a check that removed blobs, a folder
// whose tree is stored is stored again when a file it lists is not.
func (w *Workspace) storeSource(in Input, pack *cache.PackWriter, deep bool) (cache.Output, error) {
	out := cache.Output{Name: in.Path, Path: in.Path, Kind: in.Kind, Perm: in.Perm, Digest: in.Digest}
	if in.Kind == cache.KindFile {
		size, err := pack.PutSmallFile(w.Abs(in.Path), in.Digest)
		if err != nil {
			return out, err
		}
		out.Size = size
		return out, nil
	}
	// A folder's tree is stored after every file it lists, or in the
	// same pack, so a stored tree means a stored folder, unless blobs were
	// removed since.
	if in.Kind == cache.KindDir && w.Store.HasBlob(in.Digest) &&
		(!deep || len(w.Store.MissingFor([]cache.Output{{Kind: cache.KindDir, Digest: in.Digest}})) == 0) {
		return out, nil
	}
	// An input folder may be a symlink; store the folder it leads to.
	abs, err := filepath.EvalSymlinks(w.Abs(in.Path))
	if err != nil {
		return out, err
	}
	stored, err := w.Store.StoreSource(in.Path, abs, w.Index, pack)
	if err != nil {
		return out, err
	}
	if stored.Digest != in.Digest {
		// A folder with symlinks has an input digest that also covers the
		// links' targets, so it differs from its tree's digest. Compare
		// input digests before calling the folder changed.
		now, err := w.inputState(in.Path)
		if err != nil || now.Digest != in.Digest {
			return out, fmt.Errorf("it changed during the build (digest %s, was %s)", now.Digest, in.Digest)
		}
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

package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/mlbuild/mlb/cache"
	"github.com/mlbuild/mlb/cache/remote"
)

// lazyOutputs tracks the outputs a build with --download=minimal left in
// the remote cache: stages that hit but whose outputs no requested stage
// needs in the workspace.
//
// A later stage's key needs the digests of its inputs, not their bytes.
// For an input that is such an output, the digest comes from the action
// result, which records for every output exactly what hashing the file or
// directory would give. An input inside a directory output takes its
// digest from the directory's tree. An input folder that contains such
// outputs, or a path through a symlink in a tree, has no recorded digest:
// the outputs are downloaded first and the input is hashed from disk.
//
// When a later stage must run, it needs the bytes: the outputs of the
// stages it depends on are downloaded then. If that fails, because the
// remote went away or a blob is damaged, the stage that made them runs
// locally, in the goroutine of the stage that needs it.
type lazyOutputs struct {
	mu     sync.Mutex
	stages map[string]*lazyStage // by stage name
	paths  map[string]*lazyStage // by output path
}

// lazyStage is one stage whose outputs are in the remote only.
type lazyStage struct {
	mu     sync.Mutex // held while the outputs are put into the workspace
	stage  *Stage
	result *cache.ActionResult
	run    *StageRun // the stage's entry in the run, updated if it runs after all
	done   bool
	err    error
}

func newLazyOutputs() lazyOutputs {
	return lazyOutputs{stages: map[string]*lazyStage{}, paths: map[string]*lazyStage{}}
}

// add leaves s's outputs, described by ar, in the remote. Workspace copies
// that differ from ar are removed.
func (l *lazyOutputs) add(w *Workspace, s *Stage, ar *cache.ActionResult, r *StageRun) error {
	if err := removeStale(w, ar); err != nil {
		return err
	}
	ls := &lazyStage{stage: s, result: ar, run: r}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stages[s.Name] = ls
	for _, o := range ar.Outputs {
		l.paths[o.Path] = ls
	}
	return nil
}

func (l *lazyOutputs) remove(ls *lazyStage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.stages, ls.stage.Name)
	for _, o := range ls.result.Outputs {
		delete(l.paths, o.Path)
	}
}

// inputState returns the state of the input at path when it is, or lies
// inside, an output left in the remote. It returns ok false when the
// caller should read the file system instead. An input folder that
// contains such outputs gets them downloaded first.
func (l *lazyOutputs) inputState(ctx context.Context, rs *RemoteSession, w *Workspace, path string, opts BuildOptions) (in Input, ok bool, err error) {
	l.mu.Lock()
	if ls := l.paths[path]; ls != nil {
		l.mu.Unlock()
		for _, o := range ls.result.Outputs {
			if o.Path == path {
				return Input{Path: path, Kind: o.Kind, Perm: o.Perm, Digest: o.Digest}, true, nil
			}
		}
		panic("lazy output path without its output: " + path)
	}
	var owner *lazyStage
	var dir cache.Output
	for p := parentDir(path); p != "" && owner == nil; p = parentDir(p) {
		if ls := l.paths[p]; ls != nil {
			owner = ls
			for _, o := range ls.result.Outputs {
				if o.Path == p {
					dir = o
				}
			}
		}
	}
	var inside []*lazyStage
	for p, ls := range l.paths {
		if path == "." || strings.HasPrefix(p, path+"/") {
			inside = append(inside, ls)
		}
	}
	l.mu.Unlock()

	if owner != nil && dir.Kind == cache.KindDir {
		in, err := rs.inputInTree(ctx, w, owner.stage.Name, dir, path)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return in, true, err
		}
		inside = append(inside, owner)
	}
	for _, ls := range inside {
		if err := l.materialize(ctx, rs, w, ls, opts); err != nil {
			return Input{}, true, err
		}
	}
	return Input{}, false, nil
}

// errNoRecordedState means an input's state cannot be taken from a tree,
// as for a path through a symlink, and must be read from disk.
var errNoRecordedState = errors.New("no recorded state")

// inputInTree returns the state of path, which lies inside the directory
// output dir, from dir's tree. A path the tree does not list does not
// exist, as the file system would report.
func (rs *RemoteSession) inputInTree(ctx context.Context, w *Workspace, stage string, dir cache.Output, path string) (Input, error) {
	t, err := rs.tree(ctx, w, stage, dir.Digest)
	if err != nil {
		return Input{}, err
	}
	rel := strings.TrimPrefix(path, dir.Path+"/")
	for _, e := range t.Entries {
		if strings.HasPrefix(rel, e.Path+"/") && e.Kind == cache.KindSymlink {
			return Input{}, errNoRecordedState
		}
		if e.Path != rel {
			continue
		}
		switch e.Kind {
		case cache.KindFile:
			return Input{Path: path, Kind: cache.KindFile, Perm: e.Perm, Digest: e.Digest}, nil
		case cache.KindDir:
			// The digest folderDigest would give the folder: its
			// entries, relative to it, in the same order, with
			// portable permission bits.
			sub := &cache.Tree{}
			for _, se := range t.Entries {
				if strings.HasPrefix(se.Path, rel+"/") {
					se.Path = strings.TrimPrefix(se.Path, rel+"/")
					sub.Entries = append(sub.Entries, se)
				}
			}
			return Input{Path: path, Kind: cache.KindDir, Perm: e.Perm, Digest: sub.PortableDigest()}, nil
		}
		return Input{}, errNoRecordedState
	}
	return Input{}, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
}

// tree returns the verified tree with digest d, an output of stage,
// downloading it if the local store lacks it.
func (rs *RemoteSession) tree(ctx context.Context, w *Workspace, stage string, d cache.Digest) (*cache.Tree, error) {
	if !w.Store.HasBlob(d) {
		if !rs.canRead() {
			return nil, errNoRecordedState
		}
		err := rs.remote.Download(ctx, w.Store, []remote.BlobRef{{Digest: d, Size: -1}})
		if err := rs.check(ctx, stage, err, true); err != nil {
			return nil, err
		}
	}
	data, err := w.Store.ReadBlob(d)
	if err != nil {
		return nil, err
	}
	t, err := cache.DecodeTree(data)
	if err == nil {
		err = t.Validate()
	}
	if err != nil {
		return nil, &cache.CorruptError{What: "tree", Name: d.String(), Reason: err.Error()}
	}
	return t, nil
}

// materializeDeps puts into the workspace the outputs that the stages s
// depends on left in the remote. It reports whether there were any.
func (l *lazyOutputs) materializeDeps(ctx context.Context, rs *RemoteSession, w *Workspace, s *Stage, opts BuildOptions) (bool, error) {
	changed := false
	for _, d := range s.Deps {
		l.mu.Lock()
		ls := l.stages[d]
		l.mu.Unlock()
		if ls == nil {
			continue
		}
		changed = true
		if err := l.materialize(ctx, rs, w, ls, opts); err != nil {
			return true, err
		}
	}
	return changed, nil
}

// materialize puts ls's outputs into the workspace: downloaded, or, when
// the download fails, by running the stage here. Only the first call does
// the work; later ones wait for it and return its error.
func (l *lazyOutputs) materialize(ctx context.Context, rs *RemoteSession, w *Workspace, ls *lazyStage, opts BuildOptions) error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.done {
		return ls.err
	}
	ls.done = true
	defer l.remove(ls)

	// Download, as an ordinary hit would have.
	name := ls.stage.Name
	if rs.canRead() {
		err := rs.check(ctx, name, rs.remote.FetchOutputs(ctx, w.Store, ls.result.Outputs), true)
		if err == nil {
			_, err = w.restoreOutputs(ls.stage, ls.result, noEvents{})
		}
		if err == nil {
			err = w.Store.PutAction(ls.result)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || (rs.opts.Required && !cache.IsMiss(err)) {
			ls.err = err
			return err
		}
	}

	// The remote failed: build the outputs here.
	rs.mu.Lock()
	rs.hits--
	rs.misses++
	delete(rs.served, name)
	rs.mu.Unlock()
	ls.err = l.runLocally(ctx, rs, w, ls, opts)
	return ls.err
}

// runLocally executes the stage of ls, whose run was recorded as restored,
// and records it as executed or failed instead.
func (l *lazyOutputs) runLocally(ctx context.Context, rs *RemoteSession, w *Workspace, ls *lazyStage, opts BuildOptions) error {
	s, r := ls.stage, ls.run
	start := time.Now()
	opts.Events.StageStarted(s.Name, "running")
	err := func() error {
		if _, err := l.materializeDeps(ctx, rs, w, s, opts); err != nil {
			return err
		}
		parts, err := w.keyParts(s)
		if err != nil {
			return err
		}
		r.Parts, r.Key = parts, parts.Key()
		r.Outputs, r.Metrics, r.Log, r.ExitCode = nil, nil, cache.Digest{}, 0
		r.Reasons = append(r.Reasons, "outputs could not be downloaded from the remote cache")
		return w.execute(ctx, s, opts, r)
	}()
	r.Duration = time.Since(start)
	if err != nil {
		r.State, r.Error = StateFailed, err.Error()
	} else {
		r.State = StateExecuted
		rs.upload(ctx, w, r)
	}
	opts.Events.StageFinished(r)
	if err != nil {
		return fmt.Errorf("stage %s, whose outputs are inputs here, failed: %w", s.Name, err)
	}
	return nil
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// BuildOptions controls one build.
type BuildOptions struct {
	Targets   []string // stages to build with their dependencies; none means all
	Jobs      int      // stages run at once; zero means the number of CPUs
	Force     bool     // execute every selected stage, ignoring the cache
	KeepGoing bool     // after a failure, still build stages that do not depend on it
	Env       []string // environment of every stage, before its own env
	Events    Events   // progress; nil means none

	// Remote is the remote cache the build reads and writes; nil means none.
	Remote *RemoteSession

	// NoRecord builds without writing a run record or the workspace's
	// last-built state, for builds in scratch folders.
	NoRecord bool

	// Sync is the rule for flushing what the build stored before it
	// records its run.
	Sync SyncMode

	// noStore runs stages without storing their outputs or action results,
	// to compare a re-execution with a recorded run.
	noStore bool
}

// BuildError reports the stages that failed in a build.
type BuildError struct {
	Failed []*StageRun
}

func (e *BuildError) Error() string {
	var names []string
	for _, s := range e.Failed {
		names = append(names, s.Name)
	}
	return fmt.Sprintf("build failed: stage %s failed", strings.Join(names, ", "))
}

// Build runs the stages that changed and restores or keeps the others. It
// writes a run record, also for a failed build, and returns it with a
// *BuildError when any stage failed. The cache stays valid whatever
// happens: a stage's results are stored only after it succeeded.
func (w *Workspace) Build(ctx context.Context, g *Graph, opts BuildOptions) (*RunRecord, error) {
	selected, err := g.Select(opts.Targets)
	if err != nil {
		return nil, err
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	if opts.Events == nil {
		opts.Events = noEvents{}
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	if rec, err := w.quickNoop(g, opts); rec != nil || err != nil {
		return rec, err
	}
	// git runs in two child processes; start them now and use their result
	// only if the run gets a new record.
	gitDone := make(chan *GitState, 1)
	go func() { gitDone <- gitState(w.Root) }()
	pipeline, err := w.Store.PutBytes(g.Pipeline.Source)
	if err != nil {
		return nil, err
	}
	rec := &RunRecord{
		Started:  time.Now().UTC(),
		Host:     hostname(),
		Pipeline: pipeline,
		Params:   g.Params.JSON(),
		Targets:  opts.Targets,
	}
	st := newBuildState(w, g)
	// Sources packed but not committed, as when a build fails before it
	// records its run, are dropped with the pack's temp file.
	defer st.sources.abort()
	if !opts.noStore {
		w.packing = st.sources
		defer func() { w.packing = nil }()
	}
	if opts.Sync == SyncNever || len(st.memo.results) == 0 && len(selected) > 1 {
		// A build that will not flush, or a first build here, which
		// writes an entry or more per stage: flushing entries one by
		// one as they are written would be wasted.
		w.Store.ExpectManyWrites()
	}

	opts.Remote.begin(selected, opts.Targets)
	results := w.schedule(ctx, selected, opts, st)

	// Record the run, stage by stage in graph order.
	rec.Finished = time.Now().UTC()
	rec.Status = "succeeded"
	rec.Metrics = map[string]float64{}
	var failed []*StageRun
	changed := 0 // stages executed or restored
	for _, s := range selected {
		r := results[s.Name]
		rec.Stages = append(rec.Stages, r)
		switch r.State {
		case StateFailed:
			failed = append(failed, r)
			rec.Status = "failed"
		case StateSkipped, StateNotRun:
			rec.Status = "failed"
		case StateExecuted, StateRestored:
			changed++
		}
		for k, v := range r.Metrics {
			if _, clash := rec.Metrics[k]; clash {
				k = s.Name + "." + k
			}
			rec.Metrics[k] = v
		}
	}
	rec.Hash = runHash(pipeline, rec.Params, rec.Stages)
	rec.Git = <-gitDone

	// Only with a trusted memo: after a collection or a damaged entry
	// changed the cache's epoch, the sources go through storeSources,
	// which stores again those the cache lost.
	// NOTE: a pack deleted or truncated by hand changes no epoch, so its
	// sources are stored again only by a build that runs a stage.
	if rec.Status == "succeeded" && changed == 0 && opts.Remote == nil && !opts.NoRecord && st.memo.trusted {
		// No stage ran, so no source was queued for early storing.
		_, _ = st.sources.finish()
		if base := w.lastRunFile(rec.Hash); base != "" {
			if err := w.recordRepeat(st, g, rec, base); err != nil {
				return rec, err
			}
			w.saveNoop(g, opts, rec, base)
			return rec, nil
		}
	}

	rec.Sources, err = w.storeSources(rec.Stages, st.memo, st.sources)
	if err != nil {
		slog.Warn("run cannot be reproduced from the cache alone", "err", err)
	}
	if opts.NoRecord {
		err = w.Index.Save()
		if opts.Sync.flushes(rec) {
			err = errors.Join(err, w.Store.Sync())
		}
	} else {
		err = errors.Join(w.saveState(st, rec, opts.Sync.flushes(rec)), w.saveMemo(st.memo, g, rec.Stages, rec.Sources), w.Index.Save())
	}
	err = errors.Join(err, opts.Remote.finish(ctx, w, rec, !opts.NoRecord))
	if err != nil {
		return rec, err
	}
	if len(failed) > 0 || rec.Status == "failed" {
		return rec, &BuildError{Failed: failed}
	}
	return rec, nil
}

// recordRepeat records a successful build that found every stage up to
// date and repeats the last recorded run, whose record file is base. Its
// short record shares that run's key parts and sources. The sources are
// stored already, and the last-built state stays as it is. The short
// record is not synced: losing it to a power cut loses no result, only
// the note that the build happened.
func (w *Workspace) recordRepeat(st *buildState, g *Graph, rec *RunRecord, base string) error {
	rec.Repeats = base
	return errors.Join(saveRun(w.Store, rec.short(), false), w.saveMemo(st.memo, g, rec.Stages, nil), w.Index.Save())
}

// saveState makes the build's cache entries durable when flush is set
// (see SyncMode), then writes rec and the workspace state that points at
// it: the key parts of every stage that is now up to date, and the
// record's name. The record and the state are encoded while the file
// system is flushed, as neither waits for the other.
func (w *Workspace) saveState(st *buildState, rec *RunRecord, flush bool) error {
	var eg errgroup.Group
	var runData, lastData []byte
	if flush {
		eg.Go(w.Store.Sync)
	}
	eg.Go(func() (err error) {
		runData, err = encodeRun(rec)
		return err
	})
	eg.Go(func() (err error) {
		lb := st.last.get()
		for _, r := range rec.Stages {
			switch r.State {
			case StateExecuted, StateRestored, StateUpToDate:
				lb[r.Name] = r.Parts
			}
		}
		lastData = seal(encodeLastBuilt(lb))
		return nil
	})
	if err := eg.Wait(); err != nil {
		return err
	}
	if err := writeRun(w.Store, rec, runData, flush); err != nil {
		return err
	}
	if err := writeState(w.statePath(), lastData); err != nil {
		return err
	}
	if rec.Status != "succeeded" {
		// The last-built state now differs from the last successful record,
		// so the next build must not take that record for its own.
		if err := os.Remove(w.lastRunPath()); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("save build state: %w", err)
		}
		return nil
	}
	return w.saveLastRun(rec)
}

// schedule runs the selected stages on up to opts.Jobs workers, each as
// soon as the stages it depends on are done, and returns every stage's
// result by name.
func (w *Workspace) schedule(ctx context.Context, selected []*Stage, opts BuildOptions, st *buildState) map[string]*StageRun {
	results := map[string]*StageRun{}
	waiting := map[string]int{} // unfinished dependencies
	dependents := map[string][]*Stage{}
	inBuild := map[string]bool{}
	for _, s := range selected {
		inBuild[s.Name] = true
	}
	var ready []*Stage
	for _, s := range selected {
		for _, d := range s.Deps {
			if inBuild[d] {
				waiting[s.Name]++
				dependents[d] = append(dependents[d], s)
			}
		}
		if waiting[s.Name] == 0 {
			ready = append(ready, s)
		}
	}

	// A fixed set of workers, not a goroutine per stage: computing a key
	// needs a deep stack, and growing a fresh goroutine's stack for each
	// of a thousand stages cost more than their stats.
	todo := make(chan *Stage, opts.Jobs)
	done := make(chan *StageRun, opts.Jobs)
	for range opts.Jobs {
		go func() {
			for s := range todo {
				done <- w.buildStage(ctx, s, opts, st)
			}
		}()
	}
	defer close(todo)
	running := 0
	stopping := false
	for len(results) < len(selected) {
		// Start what is ready, unless a failure stops the build.
		for !stopping && running < opts.Jobs && len(ready) > 0 && ctx.Err() == nil {
			s := ready[0]
			ready = ready[1:]
			running++
			todo <- s
		}
		if running == 0 {
			break
		}

		// Wait for one stage, then release or skip what depends on it.
		r := <-done
		running--
		results[r.Name] = r
		st.finished(r)
		opts.Events.StageFinished(r)
		if r.State == StateFailed {
			if !opts.KeepGoing {
				stopping = true
			}
			skipDependents(r.Name, dependents, results, opts.Events)
			continue
		}
		for _, dep := range dependents[r.Name] {
			waiting[dep.Name]--
			if waiting[dep.Name] == 0 && results[dep.Name] == nil {
				ready = append(ready, dep)
			}
		}
	}
	for _, s := range selected {
		if results[s.Name] == nil {
			r := &StageRun{Name: s.Name, State: StateNotRun}
			if ctx.Err() != nil {
				r.Error = "build interrupted"
			}
			results[s.Name] = r
			opts.Events.StageFinished(r)
		}
	}
	return results
}

func skipDependents(name string, dependents map[string][]*Stage, results map[string]*StageRun, ev Events) {
	for _, dep := range dependents[name] {
		if results[dep.Name] != nil {
			continue
		}
		r := &StageRun{Name: dep.Name, State: StateSkipped, Error: "not run because stage " + name + " failed"}
		results[dep.Name] = r
		ev.StageFinished(r)
		skipDependents(dep.Name, dependents, results, ev)
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// gitState returns the workspace's git commit and dirty flag, or nil when
// the workspace is not in a git repository or git is not installed.
func gitState(dir string) *GitState {
	if !inGitRepo(dir) {
		return nil
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return nil
	}
	st := &GitState{Commit: strings.TrimSpace(string(out))}
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	st.Dirty = err != nil || len(strings.TrimSpace(string(status))) > 0
	return st
}

// inGitRepo reports whether dir or a folder above it has a .git entry, or
// the environment names a repository. Outside a repository this saves
// starting git, which costs more CPU time than a no-op build of a
// hundred stages.
func inGitRepo(dir string) bool {
	if os.Getenv("GIT_DIR") != "" || os.Getenv("GIT_WORK_TREE") != "" {
		return true
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return true
	}
	for {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
			return true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlbuild/mlb/cache"
)

// ReproduceOptions controls Reproduce and Verify.
type ReproduceOptions struct {
	Into   string   // destination folder; empty means the workspace
	Jobs   int      // stages run at once
	Env    []string // environment of the stages
	Events Events
	Sync   SyncMode // when the results it stores are flushed
}

// OutputCheck compares one output of a reproduced run with its record.
type OutputCheck struct {
	Stage    string       `json:"stage"`
	Output   string       `json:"output"`
	Path     string       `json:"path"`
	Recorded cache.Digest `json:"recorded"`
	Got      cache.Digest `json:"got"`
}

// Match reports whether the reproduced output equals the recorded one.
func (c OutputCheck) Match() bool { return c.Recorded == c.Got }

// Reproduction is the result of Reproduce.
type Reproduction struct {
	Run      *RunRecord    `json:"-"`
	Build    *RunRecord    `json:"-"`
	Checks   []OutputCheck `json:"outputs"`
	Executed []string      `json:"executed"`
	KeyDiffs []string      `json:"key_differences,omitempty"` // stages whose key differs, with why
	Into     string        `json:"into"`
}

// Mismatches returns the checks whose digests differ.
func (r *Reproduction) Mismatches() []OutputCheck {
	var out []OutputCheck
	for _, c := range r.Checks {
		if !c.Match() {
			out = append(out, c)
		}
	}
	return out
}

// RunParamsFile is the params file that reproduce --into writes beside the
// pipeline: the run's resolved params, as JSON.
const RunParamsFile = "run-params.json"

// scratch is a workspace built from a run record: the run's pipeline file
// and source inputs, laid out in a temp folder that shares w's cache.
type scratch struct {
	ws    *Workspace
	graph *Graph
	base  string // folder to remove afterwards
}

// Reproduce rebuilds the run rec from what the cache holds: its pipeline
// source, its source inputs and its params. Stages whose results are
// cached are restored; the others run. The outputs are then put into the
// workspace, or into opts.Into, and compared with the recorded digests.
// The workspace's own sources, such as an edited mlb.hcl, are never touched.
func (w *Workspace) Reproduce(ctx context.Context, rec *RunRecord, opts ReproduceOptions) (*Reproduction, error) {
	sc, err := w.openScratch(rec)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(sc.base)

	built, err := sc.ws.Build(ctx, sc.graph, BuildOptions{
		Targets: stageNames(rec), Jobs: opts.Jobs, Env: opts.Env, Events: opts.Events, NoRecord: true, Sync: opts.Sync,
	})
	if built == nil {
		return nil, err
	}
	var be *BuildError
	if err != nil && !errors.As(err, &be) {
		return nil, err
	}
	res := &Reproduction{Run: rec, Build: built, Into: opts.Into}
	now := map[string]*StageRun{}
	for _, s := range built.Stages {
		now[s.Name] = s
		if s.State == StateExecuted {
			res.Executed = append(res.Executed, s.Name)
		}
	}
	for _, s := range rec.Stages {
		n := now[s.Name]
		if n == nil || n.State == StateFailed || n.State == StateSkipped || n.State == StateNotRun {
			return res, fmt.Errorf("reproduce %s: stage %s did not build: %v", rec.Hash[:12], s.Name, err)
		}
		if n.Key != s.Key && s.Parts != nil && n.Parts != nil {
			res.KeyDiffs = append(res.KeyDiffs, s.Name+": "+strings.Join(changedParts(s.Parts, n.Parts), "; "))
		}
		got := map[string]cache.Output{}
		for _, o := range n.Outputs {
			got[o.Path] = o
		}
		for _, o := range s.Outputs {
			res.Checks = append(res.Checks, OutputCheck{Stage: s.Name, Output: o.Name, Path: o.Path, Recorded: o.Digest, Got: got[o.Path].Digest})
		}
	}

	// Put the reproduced outputs in place, from the store, verified.
	dest := w.Root
	if opts.Into != "" {
		dest = opts.Into
		if err := sc.copySources(dest, rec.Sources); err != nil {
			return res, err
		}
	}
	for _, s := range built.Stages {
		for _, o := range s.Outputs {
			target := filepath.Join(dest, filepath.FromSlash(o.Path))
			if w.Store.Matches(o, target, w.Index) {
				continue
			}
			if err := w.Store.Restore(o, target); err != nil {
				return res, fmt.Errorf("reproduce: put %s in place: %w", o.Path, err)
			}
		}
	}
	return res, nil
}

func stageNames(rec *RunRecord) []string {
	var names []string
	for _, s := range rec.Stages {
		names = append(names, s.Name)
	}
	return names
}

// openScratch lays out rec's pipeline file and source inputs in a temp
// folder. Source inputs outside the workspace, written as ../x, are placed
// at the same relative spot, so the folder is nested deep enough for them;
// an absolute source must exist with its recorded digest.
func (w *Workspace) openScratch(rec *RunRecord) (*scratch, error) {
	src, err := w.Store.ReadBlob(rec.Pipeline)
	if err != nil {
		return nil, fmt.Errorf("reproduce %s: pipeline source: %w", rec.Hash[:12], err)
	}
	if missing := w.Store.MissingFor(rec.Sources); len(missing) > 0 {
		return nil, fmt.Errorf("reproduce %s: %d source blobs are not in the cache, first %s", rec.Hash[:12], len(missing), missing[0])
	}
	up := 0
	for _, s := range rec.Sources {
		n := 0
		for p := s.Path; strings.HasPrefix(p, "../"); p = p[3:] {
			n++
		}
		up = max(up, n)
	}
	tmp := filepath.Join(w.Root, StateDir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp(tmp, "reproduce-")
	if err != nil {
		return nil, err
	}
	root := base
	for i := 0; i < up; i++ {
		root = filepath.Join(root, fmt.Sprintf("up%d", i))
	}
	root = filepath.Join(root, "ws")
	sc := &scratch{base: base}
	fail := func(err error) (*scratch, error) {
		os.RemoveAll(base)
		return nil, fmt.Errorf("reproduce %s: %w", rec.Hash[:12], err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(root, PipelineFile), src, 0o644); err != nil {
		return fail(err)
	}
	sc.ws, err = OpenWorkspace(root, w.Store.Root())
	if err != nil {
		return fail(err)
	}
	for _, s := range rec.Sources {
		if filepath.IsAbs(s.Path) {
			in, err := sc.ws.inputState(s.Path)
			if err != nil || in.Digest != s.Digest {
				return fail(fmt.Errorf("source %s is outside any folder mlb can recreate and changed since the run", s.Path))
			}
			continue
		}
		if err := w.Store.Restore(s, filepath.Join(root, filepath.FromSlash(s.Path))); err != nil {
			return fail(fmt.Errorf("source %s: %w", s.Path, err))
		}
	}

	p, diags := LoadSource(root, src)
	if diags.HasErrors() {
		return fail(fmt.Errorf("recorded pipeline: %s", diags.Error()))
	}
	params, diags := p.ResolveParams(ParamSources{Recorded: rec.Params})
	if diags.HasErrors() {
		return fail(fmt.Errorf("recorded params: %s", diags.Error()))
	}
	sc.graph, diags = p.Resolve(params)
	if diags.HasErrors() {
		return fail(fmt.Errorf("recorded pipeline: %s", diags.Error()))
	}
	return sc, nil
}

// copySources writes the pipeline file and the sources inside the
// workspace into dest, making dest a workspace of its own.
//
// The run's resolved params go to dest/RunParamsFile, so that
// "mlb build --params-file run-params.json" there builds the same run.
// Sources outside the workspace are not copied: the pipeline refers to
// them by a path relative to the workspace, which dest may not share.
func (sc *scratch) copySources(dest string, sources []cache.Output) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("reproduce into %s: %w", dest, err)
	}
	if err := os.WriteFile(filepath.Join(dest, PipelineFile), sc.graph.Pipeline.Source, 0o644); err != nil {
		return fmt.Errorf("reproduce into %s: %w", dest, err)
	}
	if err := os.WriteFile(filepath.Join(dest, RunParamsFile), append(sc.graph.Params.JSON(), '\n'), 0o644); err != nil {
		return fmt.Errorf("reproduce into %s: %w", dest, err)
	}
	for _, s := range sources {
		if filepath.IsAbs(s.Path) || strings.HasPrefix(s.Path, "../") {
			continue
		}
		if err := sc.ws.Store.Restore(s, filepath.Join(dest, filepath.FromSlash(s.Path))); err != nil {
			return fmt.Errorf("reproduce into %s: source %s: %w", dest, s.Path, err)
		}
	}
	return nil
}

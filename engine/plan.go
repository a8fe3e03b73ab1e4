package engine

import (
	"errors"
	"fmt"
	"os"

	"github.com/mlbuild/mlb/cache"
)

// Plan actions: what a build would do with a stage.
const (
	ActionRun      = "run"
	ActionRestore  = "restore"
	ActionUpToDate = "up-to-date"
)

// StagePlan is the action a build would take for one stage, with its reasons.
type StagePlan struct {
	Name    string   `json:"name"`
	Action  string   `json:"action"`
	Reasons []string `json:"reasons,omitempty"`
	Key     string   `json:"key,omitempty"` // empty when it depends on a stage that will run

	// restores contains the outputs a build would restore, by path, so that
	// the plans of dependants see their inputs as they will be.
	restores map[string]cache.Output
}

// Plan reports, without running or changing anything but the file index, what
// a build of the selected stages would do with each. A stage after one that
// will run is planned to run: its inputs are not known until then.
func (w *Workspace) Plan(g *Graph, targets []string, force bool) ([]*StagePlan, error) {
	selected, err := g.Select(targets)
	if err != nil {
		return nil, err
	}
	last := w.loadLastBuilt()
	plans := map[string]*StagePlan{}
	var out []*StagePlan
	for _, s := range selected {
		p := w.planStage(s, plans, last[s.Name], force)
		plans[s.Name] = p
		out = append(out, p)
	}
	return out, nil
}

func (w *Workspace) planStage(s *Stage, plans map[string]*StagePlan, last *KeyParts, force bool) *StagePlan {
	p := &StagePlan{Name: s.Name, Action: ActionRun}
	for _, d := range s.Deps {
		if dp := plans[d]; dp != nil && dp.Action == ActionRun {
			p.Reasons = append(p.Reasons, "depends on "+d+", which will run")
		}
	}
	if len(p.Reasons) > 0 {
		return p
	}
	restores := map[string]cache.Output{}
	for _, d := range s.Deps {
		if dp := plans[d]; dp != nil {
			for path, o := range dp.restores {
				restores[path] = o
			}
		}
	}
	parts, err := w.plannedKeyParts(s, restores)
	var missing *MissingInputError
	if errors.As(err, &missing) {
		p.Reasons = []string{fmt.Sprintf("input %s (%s) is missing", missing.Name, missing.Path)}
		return p
	}
	if err != nil {
		p.Reasons = []string{err.Error()}
		return p
	}
	key := parts.Key()
	p.Key = key.String()
	p.Reasons = runReasons(s, parts, last, force)
	if force || !s.Cache {
		return p
	}
	ar, err := w.Store.GetAction(key)
	if err != nil {
		if len(p.Reasons) == 0 {
			p.Reasons = []string{"no cached result for this key"}
		}
		return p
	}

	// A cached result exists: the stage is restored or already in place.
	var stale []string
	for _, o := range ar.Outputs {
		if !w.Store.Matches(o, w.Abs(o.Path), w.Index) {
			stale = append(stale, o.Path)
		}
	}
	if missing := w.Store.MissingBlobs(ar); len(stale) > 0 && len(missing) > 0 {
		p.Reasons = append(p.Reasons, fmt.Sprintf("cached result lacks %d blobs", len(missing)))
		return p
	}
	p.Action = ActionUpToDate
	if len(stale) > 0 {
		p.Action = ActionRestore
		p.restores = map[string]cache.Output{}
		for _, o := range ar.Outputs {
			p.restores[o.Path] = o
		}
		// Only when the key is the one last built here were these outputs
		// in place before, so the user deleted or edited them. Otherwise
		// the workspace holds another key's outputs, or none yet.
		sameAsLast := last != nil && last.Key() == key
		for _, path := range stale {
			if sameAsLast {
				p.Reasons = append(p.Reasons, "output "+path+" missing or modified")
			} else {
				p.Reasons = append(p.Reasons, "output "+path+" will be restored from the cache")
			}
		}
	} else {
		p.Reasons = nil
	}
	return p
}

// plannedKeyParts computes s's key parts as keyParts does, except that an
// input at the path of an output in restores takes that output's recorded
// state, which is what a build will find there once it has restored it.
//
// NOTE: an input inside a restored output folder, or a folder containing a
// restored output, is still read from the workspace as it is now, so the
// plan for its stage can differ from what the build does.
func (w *Workspace) plannedKeyParts(s *Stage, restores map[string]cache.Output) (*KeyParts, error) {
	p := s.staticParts()
	for _, in := range s.Inputs {
		if o, ok := restores[in.Path]; ok {
			p.Inputs[in.Name] = Input{Path: in.Path, Kind: o.Kind, Perm: o.Perm, Digest: o.Digest}
			continue
		}
		state, err := w.inputState(in.Path)
		if os.IsNotExist(err) {
			return nil, &MissingInputError{Stage: s.Name, Name: in.Name, Path: in.Path, Where: declaredAt(in.Range)}
		}
		if err != nil {
			return nil, fmt.Errorf("stage %s: input %s: %w", s.Name, in.Name, err)
		}
		p.Inputs[in.Name] = state
	}
	return p, nil
}

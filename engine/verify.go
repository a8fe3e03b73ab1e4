package engine

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mlbuild/mlb/cache"
)

// StageVerdict reports whether re-executing one stage of a run gave the
// recorded outputs.
type StageVerdict struct {
	Stage     string        `json:"stage"`
	Status    string        `json:"status"` // "deterministic", "non-deterministic" or "failed"
	Differing []OutputCheck `json:"differing,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// Verify re-executes every stage of rec in a scratch folder and compares
// each stage's outputs with the recorded digests. Each stage runs on the
// recorded outputs of the stages before it, restored from the cache, so a
// non-deterministic stage does not make the stages after it look
// non-deterministic too. Nothing is stored in the cache.
func (w *Workspace) Verify(ctx context.Context, rec *RunRecord, opts ReproduceOptions) ([]StageVerdict, error) {
	sc, err := w.openScratch(rec)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(sc.base)
	bo := BuildOptions{Env: opts.Env, Events: noEvents{}, noStore: true}
	if bo.Env == nil {
		bo.Env = os.Environ()
	}
	if opts.Events != nil {
		bo.Events = opts.Events
	}

	var verdicts []StageVerdict
	for _, recorded := range rec.Stages {
		s := sc.graph.Stage(recorded.Name)
		v := StageVerdict{Stage: recorded.Name, Status: "deterministic"}
		if s == nil {
			return nil, fmt.Errorf("verify: stage %s of the run is not in its recorded pipeline", recorded.Name)
		}

		// Execute the stage on the recorded inputs.
		bo.Events.StageStarted(s.Name, "running")
		start := time.Now()
		r := &StageRun{Name: s.Name}
		err := sc.ws.execute(ctx, s, bo, r)
		got := map[string]cache.Output{}
		for _, o := range r.Outputs {
			got[o.Path] = o
		}
		if err != nil {
			v.Status, v.Error = "failed", err.Error()
		} else {
			for _, o := range recorded.Outputs {
				if g := got[o.Path]; g.Digest != o.Digest {
					v.Status = "non-deterministic"
					v.Differing = append(v.Differing, OutputCheck{Stage: s.Name, Output: o.Name, Path: o.Path, Recorded: o.Digest, Got: g.Digest})
				}
			}
		}
		r.State, r.Duration = StateExecuted, time.Since(start)
		bo.Events.StageFinished(r)
		verdicts = append(verdicts, v)

		// Put the recorded outputs back for the stages that follow.
		for _, o := range recorded.Outputs {
			if err := w.Store.Restore(o, sc.ws.Abs(o.Path)); err != nil {
				return verdicts, fmt.Errorf("verify: restore the recorded %s for the stages after %s: %w", o.Path, s.Name, err)
			}
		}
		if ctx.Err() != nil {
			return verdicts, ctx.Err()
		}
	}
	return verdicts, nil
}

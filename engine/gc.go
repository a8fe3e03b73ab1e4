package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mlbuild/mlb/cache"
)

// GCOptions selects the runs that garbage collection keeps. A run is kept
// when any option selects it, and at least one option must be set.
type GCOptions struct {
	KeepLast  int       // the newest N runs
	KeepSince time.Time // runs started at or after this time
	Keep      []string  // runs named by hash prefix
	DryRun    bool
}

// GCResult lists the runs a collection kept and dropped, and counts what
// it removed, or would remove with DryRun.
type GCResult struct {
	Kept    []string `json:"kept_runs"`
	Dropped []string `json:"dropped_runs"`
	cache.GCStats
}

// GC deletes the run records not kept and every blob and action result
// that no kept run needs: its pipeline source, source inputs, outputs,
// logs and action results. It refuses to run while a build uses the cache.
func GC(store *cache.Store, opts GCOptions) (*GCResult, error) {
	if opts.KeepLast <= 0 && opts.KeepSince.IsZero() && len(opts.Keep) == 0 {
		return nil, errors.New("gc: say which runs to keep with --keep-last N, --keep-since DATE or --keep RUN")
	}
	lock, err := store.LockExclusive()
	if err != nil {
		return nil, fmt.Errorf("gc: %w; try again when it finishes", err)
	}
	defer lock.Unlock()

	keepNamed := map[string]bool{}
	for _, prefix := range opts.Keep {
		r, err := FindRun(store, prefix)
		if err != nil {
			return nil, fmt.Errorf("gc: --keep: %w", err)
		}
		keepNamed[r.Hash] = true
	}
	runs, err := ListRuns(store)
	if err != nil {
		return nil, err
	}

	// Mark what the kept runs need.
	res := &GCResult{}
	live := cache.NewLive()
	var dropped []*RunRecord
	keep := map[string]bool{} // by record file
	for i, r := range runs {
		if i < opts.KeepLast || keepNamed[r.Hash] || (!opts.KeepSince.IsZero() && !r.Started.Before(opts.KeepSince)) {
			keep[r.file] = true
			if r.Repeats != "" {
				keep[r.Repeats] = true // the record it shares parts with
			}
		}
	}
	for _, r := range runs {
		if !keep[r.file] {
			dropped = append(dropped, r)
			continue
		}
		res.Kept = append(res.Kept, r.Hash)
		live.Blobs[r.Pipeline] = true
		live.AddOutputs(store, r.Sources)
		for _, s := range r.Stages {
			live.Actions[s.Key] = true
			live.AddOutputs(store, s.Outputs)
			if !s.Log.IsZero() {
				live.Blobs[s.Log] = true
			}
		}
	}

	// Sweep: run records first, so no kept record ever names a swept blob.
	for _, r := range dropped {
		res.Dropped = append(res.Dropped, r.Hash)
		if opts.DryRun {
			continue
		}
		if err := removeRunRecord(store, r); err != nil {
			return res, err
		}
	}
	res.GCStats, err = store.Collect(live, opts.DryRun)
	return res, err
}

func removeRunRecord(store *cache.Store, r *RunRecord) error {
	err := os.Remove(filepath.Join(runsDir(store), r.file))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("gc: remove run %s: %w", r.Hash[:12], err)
	}
	return nil
}

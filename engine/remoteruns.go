package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/mlbuild/mlb/cache"
	"github.com/mlbuild/mlb/cache/remote"
)

// TransferReport is the outcome of PushRun or PullRun.
type TransferReport struct {
	Results int      // action results uploaded or downloaded
	Skipped []string // stages without a result to move, each with the reason
}

// succeeded reports whether a stage's state means its result was stored.
func succeeded(r *StageRun) bool {
	return r.State == StateExecuted || r.State == StateRestored || r.State == StateUpToDate
}

// PushRun uploads rec to the remote. It uploads the result of every stage
// that succeeded, blobs and log first, then the pipeline file and source
// inputs, then the record itself. A reader therefore never finds a record
// or result whose blobs are missing. A stage whose result is not complete
// in the local store, such as one built with cache = false or one whose
// outputs a build left in the remote, is skipped and listed in the report.
func (w *Workspace) PushRun(ctx context.Context, r *remote.Remote, rec *RunRecord) (TransferReport, error) {
	var report TransferReport
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range rec.Stages {
		if !succeeded(s) {
			continue
		}
		ar, err := w.Store.GetAction(s.Key)
		if err == nil && len(w.Store.MissingFor(ar.Outputs)) > 0 {
			err = cache.ErrNotFound
		}
		if err != nil {
			if !cache.IsMiss(err) {
				return report, err
			}
			report.Skipped = append(report.Skipped, s.Name+": no complete result in the local cache")
			continue
		}
		g.Go(func() error {
			if err := pushResult(gctx, r, w.Store, ar); err != nil {
				return err
			}
			mu.Lock()
			report.Results++
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return report, err
	}
	return report, pushRecord(ctx, r, w.Store, rec)
}

// PullRun downloads from the remote the run whose hash starts with prefix,
// into the local cache: the result of every stage that succeeded with its
// blobs and log, the pipeline file and source inputs, then the record. It
// restores nothing into the workspace; a build or checkout does that from
// the local cache. Stages whose result the remote lacks are skipped and
// listed in the report.
func (w *Workspace) PullRun(ctx context.Context, r *remote.Remote, prefix string) (*RunRecord, TransferReport, error) {
	var report TransferReport
	rec, err := findRemoteRun(ctx, r, prefix)
	if err != nil {
		return nil, report, err
	}

	// Results first, each complete before it enters the local store.
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range rec.Stages {
		if !succeeded(s) {
			continue
		}
		g.Go(func() error {
			err := w.pullResult(gctx, r, s)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				report.Results++
			case cache.IsMiss(err):
				report.Skipped = append(report.Skipped, fmt.Sprintf("%s: %v", s.Name, err))
			default:
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, report, err
	}
	sort.Strings(report.Skipped)

	// Then what reproducing the run needs, then the record.
	if err := r.Download(ctx, w.Store, []remote.BlobRef{{Digest: rec.Pipeline, Size: -1}}); err != nil {
		return nil, report, err
	}
	if err := r.FetchOutputs(ctx, w.Store, rec.Sources); err != nil {
		return nil, report, err
	}
	if err := SaveRun(w.Store, rec); err != nil {
		return nil, report, err
	}
	return rec, report, nil
}

// pullResult downloads the result of stage run s, unless the local store
// has it whole.
func (w *Workspace) pullResult(ctx context.Context, r *remote.Remote, s *StageRun) error {
	if ar, err := w.Store.GetAction(s.Key); err == nil && len(w.Store.MissingFor(ar.Outputs)) == 0 {
		return nil
	}
	ar, err := r.GetAction(ctx, s.Key)
	if err != nil {
		return err
	}

	// Without the pipeline at hand, check what keeps a restore inside the
	// workspace: each output path is a clean workspace path.
	for _, o := range ar.Outputs {
		if clean, err := workspacePath(o.Path, w.Root); err != nil || clean != o.Path {
			return &cache.CorruptError{What: "action result", Name: ar.Key.String(), Reason: fmt.Sprintf("output path %q is not a clean path inside the workspace", o.Path)}
		}
	}
	if err := r.FetchOutputs(ctx, w.Store, ar.Outputs); err != nil {
		return err
	}
	if !ar.Log.IsZero() {
		err := r.Download(ctx, w.Store, []remote.BlobRef{{Digest: ar.Log, Size: -1}})
		if err != nil && !errors.Is(err, cache.ErrNotFound) {
			return err
		}
	}
	return w.Store.PutAction(ar)
}

// remoteRun is a run record's name in the remote with the hash it holds.
type remoteRun struct {
	name, hash string
}

// remoteRuns lists the run records in the remote, newest first.
func remoteRuns(ctx context.Context, r *remote.Remote) ([]remoteRun, error) {
	names, err := r.RunNames(ctx)
	if err != nil {
		return nil, err
	}
	runs := make([]remoteRun, 0, len(names))
	for i := len(names) - 1; i >= 0; i-- {
		_, hash, ok := strings.Cut(strings.TrimSuffix(names[i], runSuffix), "-")
		if ok && hash != "" {
			runs = append(runs, remoteRun{name: names[i], hash: hash})
		}
	}
	return runs, nil
}

// findRemoteRun downloads the newest run in the remote whose hash starts
// with prefix.
func findRemoteRun(ctx context.Context, r *remote.Remote, prefix string) (*RunRecord, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 4 {
		return nil, fmt.Errorf("run hash prefix %q is too short: give at least 4 characters", prefix)
	}
	runs, err := remoteRuns(ctx, r)
	if err != nil {
		return nil, err
	}
	var found *remoteRun
	hashes := map[string]bool{}
	for i, run := range runs {
		if strings.HasPrefix(run.hash, prefix) {
			if found == nil {
				found = &runs[i]
			}
			hashes[run.hash] = true
		}
	}
	switch {
	case found == nil:
		return nil, fmt.Errorf("no run in remote %s matches %q: list them with mlb runs --remote", r, prefix)
	case len(hashes) > 1:
		return nil, fmt.Errorf("run prefix %q is ambiguous: it matches %d runs in remote %s; give more characters", prefix, len(hashes), r)
	}
	return getRemoteRun(ctx, r, *found)
}

// getRemoteRun downloads and decodes one run record, checking that its
// hash is the one in its name.
func getRemoteRun(ctx context.Context, r *remote.Remote, run remoteRun) (*RunRecord, error) {
	data, err := r.GetRun(ctx, run.name)
	if err != nil {
		return nil, err
	}
	var rec RunRecord
	if err := cache.DecodeCompressedLimited(data, &rec); err != nil || rec.Version != runVersion || rec.Hash != run.hash {
		reason := "wrong version or hash"
		if err != nil {
			reason = err.Error()
		}
		return nil, &cache.CorruptError{What: "run record", Name: run.name, Reason: reason}
	}
	return &rec, nil
}

// ListRemoteRuns returns up to limit run records from the remote, newest
// first; a limit of zero or less means all. Records that cannot be read
// are skipped, as ListRuns skips them.
func ListRemoteRuns(ctx context.Context, r *remote.Remote, limit int) ([]*RunRecord, error) {
	runs, err := remoteRuns(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []*RunRecord
	for _, run := range runs {
		if limit > 0 && len(out) >= limit {
			break
		}
		rec, err := getRemoteRun(ctx, r, run)
		if cache.IsMiss(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

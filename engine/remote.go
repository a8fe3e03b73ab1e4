package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/mlbuild/mlb/cache"
	"github.com/mlbuild/mlb/cache/remote"
)

// RemoteMode sets which ways a build uses the remote cache.
type RemoteMode string

// Remote modes. Read suits untrusted builds, such as pull requests from
// forks: they reuse results but cannot change what others reuse.
const (
	RemoteReadWrite RemoteMode = "read-write"
	RemoteRead      RemoteMode = "read"
	RemoteWrite     RemoteMode = "write"
)

// DownloadMode selects which outputs a build downloads from the remote
// cache.
type DownloadMode string

// Download modes. Minimal downloads the outputs of the requested stages
// and the inputs of the stages that must run locally, and leaves the rest
// in the remote. All downloads every output of every selected stage.
const (
	DownloadMinimal DownloadMode = "minimal"
	DownloadAll     DownloadMode = "all"
)

// RemoteOptions configures a build's use of a remote cache.
type RemoteOptions struct {
	Mode     RemoteMode   // "" means RemoteReadWrite
	Download DownloadMode // "" means DownloadMinimal

	// Required makes a failure of the remote fail the build. Without it
	// the first failure prints one warning and the build goes on with
	// the local cache alone.
	Required bool

	// Warn receives each warning as one line without a trailing newline.
	// It is called from one goroutine at a time. Nil drops warnings.
	Warn func(msg string)
}

// RemoteSession is one build's use of a remote cache: the connection, the
// options, and what the build learned, such as which stages' outputs were
// left in the remote. A session serves one build; its methods are safe
// for the build's goroutines. Methods on a nil session do what a build
// without a remote does.
type RemoteSession struct {
	remote *remote.Remote
	opts   RemoteOptions

	warnMu sync.Mutex

	mu       sync.Mutex
	off      bool                     // switched off after a failure
	download map[string]bool          // stages whose outputs are downloaded; nil means all
	fetched  map[cache.ActionKey]bool // action results read from the remote
	served   map[string]bool          // stages the remote served
	uploaded map[cache.ActionKey]bool // results queued for upload
	lazy     lazyOutputs
	hits     int
	misses   int

	uploads   sync.WaitGroup
	uploadErr error // first upload failure, reported by finish when Required
}

// NewRemoteSession returns a session for one build with the remote r.
func NewRemoteSession(r *remote.Remote, opts RemoteOptions) *RemoteSession {
	if opts.Mode == "" {
		opts.Mode = RemoteReadWrite
	}
	if opts.Download == "" {
		opts.Download = DownloadMinimal
	}
	return &RemoteSession{
		remote:   r,
		opts:     opts,
		fetched:  map[cache.ActionKey]bool{},
		served:   map[string]bool{},
		uploaded: map[cache.ActionKey]bool{},
		lazy:     newLazyOutputs(),
	}
}

// RemoteSummary is the counts of a session, for the line a build prints
// at its end.
type RemoteSummary struct {
	Remote string // the URL without user info or query
	Hits   int    // stages whose result came from the remote
	Misses int    // stages the remote had no usable result for
	Off    bool   // the remote failed and the build went on without it
	remote.Stats
}

// Summary returns the counts so far.
func (rs *RemoteSession) Summary() RemoteSummary {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return RemoteSummary{Remote: rs.remote.String(), Hits: rs.hits, Misses: rs.misses, Off: rs.off, Stats: rs.remote.Stats()}
}

// Stats returns the remote's transfer counts so far, for progress
// displays.
func (rs *RemoteSession) Stats() remote.Stats { return rs.remote.Stats() }

func (rs *RemoteSession) canRead() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return !rs.off && rs.opts.Mode != RemoteWrite
}

func (rs *RemoteSession) canWrite() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return !rs.off && rs.opts.Mode != RemoteRead
}

func (rs *RemoteSession) warn(format string, args ...any) {
	if rs.opts.Warn == nil {
		return
	}
	rs.warnMu.Lock()
	defer rs.warnMu.Unlock()
	rs.opts.Warn(fmt.Sprintf(format, args...))
}

func (rs *RemoteSession) count(hit bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if hit {
		rs.hits++
	} else {
		rs.misses++
	}
}

// begin prepares the session for a build of selected. Under
// DownloadMinimal the stages whose outputs are downloaded are the targets
// or, with none, the selected stages no other selected stage depends on.
func (rs *RemoteSession) begin(selected []*Stage, targets []string) {
	if rs == nil || rs.opts.Download == DownloadAll {
		return
	}
	download := map[string]bool{}
	for _, t := range targets {
		download[t] = true
	}
	if len(targets) == 0 {
		needed := map[string]bool{}
		for _, s := range selected {
			for _, d := range s.Deps {
				needed[d] = true
			}
		}
		for _, s := range selected {
			if !needed[s.Name] {
				download[s.Name] = true
			}
		}
	}
	rs.download = download
}

func (rs *RemoteSession) downloads(s *Stage) bool {
	return rs.download == nil || rs.download[s.Name]
}

// check sorts out an error from the remote about stage. A failure of
// the remote itself switches the remote off for the rest of the build
// with one warning and becomes a miss, unless the remote is required:
// then it is returned as it is and fails the stage. A corrupt entry is a
// miss with a warning. A missing entry is a miss, with a warning when
// warnMissing is set, as for a blob that an action result names.
// Interruptions and local errors are returned as they are.
func (rs *RemoteSession) check(ctx context.Context, stage string, err error, warnMissing bool) error {
	var ce *cache.CorruptError
	var re *remote.Error
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return err
	case errors.As(err, &re):
		return rs.failed(err)
	case errors.As(err, &ce):
		rs.warn("%v; stage %s runs locally", err, stage)
	case errors.Is(err, cache.ErrNotFound) && warnMissing:
		rs.warn("%v; stage %s runs locally", err, stage)
	}
	return err
}

// failed handles a failure of the remote itself; see check.
func (rs *RemoteSession) failed(err error) error {
	if rs.opts.Required {
		return fmt.Errorf("%w (the remote cache is required)", err)
	}
	rs.mu.Lock()
	first := !rs.off
	rs.off = true
	rs.mu.Unlock()
	if first {
		rs.warn("%v; going on without the remote cache", err)
	}
	return fmt.Errorf("remote cache unavailable: %w", cache.ErrNotFound)
}

// getAction looks k up in the remote after a local miss.
func (rs *RemoteSession) getAction(ctx context.Context, s *Stage, k cache.ActionKey) (*cache.ActionResult, error) {
	if !rs.canRead() {
		return nil, fmt.Errorf("action %s: %w", k, cache.ErrNotFound)
	}
	ar, err := rs.remote.GetAction(ctx, k)
	if err == nil {
		if err = checkResult(s, ar); err != nil {
			err = fmt.Errorf("remote %s: %w", rs.remote, err)
		}
	}
	if err != nil {
		err = rs.check(ctx, s.Name, err, false)
		if cache.IsMiss(err) {
			rs.count(false)
		}
		return nil, err
	}
	rs.mu.Lock()
	rs.fetched[k] = true
	rs.mu.Unlock()
	return ar, nil
}

// checkResult rejects an action result from the remote whose outputs are
// not exactly the stage's declared outputs. Declared outputs are inside
// the workspace, so a result that passes cannot restore anything outside
// it.
func checkResult(s *Stage, ar *cache.ActionResult) error {
	declared := map[string]string{}
	for _, o := range s.Outputs {
		declared[o.Name] = o.Path
	}
	bad := func(reason string) error {
		return &cache.CorruptError{What: "action result", Name: ar.Key.String(), Reason: reason}
	}
	if len(ar.Outputs) != len(declared) {
		return bad(fmt.Sprintf("%d outputs, stage %s declares %d", len(ar.Outputs), s.Name, len(declared)))
	}
	for _, o := range ar.Outputs {
		path, ok := declared[o.Name]
		switch {
		case !ok:
			return bad(fmt.Sprintf("output %q is not declared by stage %s", o.Name, s.Name))
		case o.Path != path:
			return bad(fmt.Sprintf("output %s has path %q, declared %q", o.Name, o.Path, path))
		case o.Kind != cache.KindFile && o.Kind != cache.KindDir:
			return bad(fmt.Sprintf("output %s has kind %q", o.Name, o.Kind))
		case o.Size < 0:
			return bad(fmt.Sprintf("output %s has a negative size", o.Name))
		}
		delete(declared, o.Name)
	}
	return nil
}

// restoreOutputs is Workspace.restoreOutputs with the remote behind the
// local store. Outputs whose blobs are only in the remote are downloaded
// when the build needs them in the workspace. Otherwise they stay in the
// remote, and later stages take their digests from ar. r is the stage's
// run, which a later download failure may turn into a local execution.
func (rs *RemoteSession) restoreOutputs(ctx context.Context, w *Workspace, s *Stage, ar *cache.ActionResult, r *StageRun, opts BuildOptions) (bool, error) {
	if rs == nil {
		return w.restoreOutputs(s, ar, opts.Events)
	}
	rs.mu.Lock()
	fromRemote := rs.fetched[ar.Key]
	rs.mu.Unlock()

	// Outputs already in the workspace, or with every blob in the local
	// store, need nothing more from the remote.
	stale := 0
	for _, o := range ar.Outputs {
		if !w.Store.Matches(o, w.Abs(o.Path), w.Index) {
			stale++
		}
	}
	if stale == 0 || len(w.Store.MissingFor(ar.Outputs)) == 0 {
		restored, err := w.restoreOutputs(s, ar, opts.Events)
		if err == nil && restored && fromRemote {
			err = w.Store.PutAction(ar)
		}
		if err == nil && fromRemote {
			rs.markServed(s.Name)
		}
		return restored, err
	}
	if !rs.canRead() {
		return false, fmt.Errorf("restore %s: blobs only in the remote cache, which is off: %w", s.Name, cache.ErrNotFound)
	}

	// Outputs the build does not need in the workspace stay in the remote.
	if !rs.downloads(s) {
		if err := rs.lazy.add(w, s, ar, r); err != nil {
			return false, err
		}
		rs.markServed(s.Name)
		return true, nil
	}

	// Download, then restore from the local store, which then holds
	// everything the action result names.
	opts.Events.StageStarted(s.Name, "downloading")
	err := rs.check(ctx, s.Name, rs.remote.FetchOutputs(ctx, w.Store, ar.Outputs), true)
	if err == nil {
		_, err = w.restoreOutputs(s, ar, opts.Events)
	}
	if err == nil {
		err = w.Store.PutAction(ar)
	}
	if err != nil {
		if cache.IsMiss(err) {
			rs.count(false)
		}
		return false, err
	}
	rs.markServed(s.Name)
	return true, nil
}

func (rs *RemoteSession) markServed(stage string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.served[stage] = true
	rs.hits++
}

// inputState returns the function a stage's key takes input states from:
// the file system, or for outputs left in the remote, their recorded
// digests.
func (rs *RemoteSession) inputState(ctx context.Context, w *Workspace, opts BuildOptions) func(path string) (Input, error) {
	if rs == nil {
		return w.inputState
	}
	return func(path string) (Input, error) {
		in, ok, err := rs.lazy.inputState(ctx, rs, w, path, opts)
		if ok || err != nil {
			return in, err
		}
		return w.inputState(path)
	}
}

// materializeInputs puts into the workspace the outputs, left in the
// remote, of the stages s depends on, so that s can run. It recomputes
// r's key from the files when it put any there: a stage that had to run
// locally may have written other bytes than the remote holds.
func (rs *RemoteSession) materializeInputs(ctx context.Context, w *Workspace, s *Stage, r *StageRun, opts BuildOptions) error {
	if rs == nil {
		return nil
	}
	changed, err := rs.lazy.materializeDeps(ctx, rs, w, s, opts)
	if err != nil || !changed {
		return err
	}
	parts, err := w.keyParts(s)
	if err != nil {
		return err
	}
	r.Parts, r.Key = parts, parts.Key()
	return nil
}

// upload writes r's result back to the remote in the background, blobs
// first and the action result last. Only results in the local store are
// uploaded: a failed stage, a stage with a missing output and a stage
// with cache = false have none.
func (rs *RemoteSession) upload(ctx context.Context, w *Workspace, r *StageRun) {
	if rs == nil || !rs.canWrite() {
		return
	}
	ar, err := w.Store.GetAction(r.Key)
	if err != nil {
		return
	}
	rs.mu.Lock()
	queued := rs.uploaded[ar.Key]
	rs.uploaded[ar.Key] = true
	rs.mu.Unlock()
	if queued {
		return
	}
	rs.uploads.Add(1)
	go func() {
		defer rs.uploads.Done()
		rs.noteUpload(ctx, pushResult(ctx, rs.remote, w.Store, ar))
	}()
}

func (rs *RemoteSession) noteUpload(ctx context.Context, err error) {
	if err == nil || ctx.Err() != nil {
		return
	}
	var re *remote.Error
	if !errors.As(err, &re) {
		rs.warn("%v; it is not in the remote cache", err)
		return
	}
	err = rs.failed(err)
	if rs.opts.Required {
		rs.mu.Lock()
		if rs.uploadErr == nil {
			rs.uploadErr = err
		}
		rs.mu.Unlock()
	}
}

// pushResult uploads ar's blobs, its log included, and then ar. A result
// the remote already holds is left alone, one request for all its blobs,
// unless a download found one of them bad: then they are sent again.
func pushResult(ctx context.Context, r *remote.Remote, store *cache.Store, ar *cache.ActionResult) error {
	blobs, err := store.OutputBlobs(ar.Outputs)
	if err != nil {
		return fmt.Errorf("upload result of stage %s: %w", ar.Stage, err)
	}
	if !ar.Log.IsZero() && store.HasBlob(ar.Log) {
		blobs = append(blobs, ar.Log)
	}
	if !r.Damaged(blobs) {
		has, err := r.HasAction(ctx, ar.Key)
		if err != nil || has {
			return err
		}
	}
	if err := r.Upload(ctx, store, blobs); err != nil {
		return err
	}
	return r.PutAction(ctx, ar)
}

// finish ends the session's part in a build. It waits for the uploads and
// uploads the results of the stages that were already in the local cache.
// For a build that succeeded, it then uploads the run record with the
// pipeline file and source inputs it names. It returns an error only when
// the remote is required.
func (rs *RemoteSession) finish(ctx context.Context, w *Workspace, rec *RunRecord, saveRecord bool) error {
	if rs == nil {
		return nil
	}
	for _, s := range rec.Stages {
		rs.mu.Lock()
		served := rs.served[s.Name]
		rs.mu.Unlock()
		if !served && (s.State == StateRestored || s.State == StateUpToDate) {
			rs.upload(ctx, w, s)
		}
	}
	rs.uploads.Wait()
	if ctx.Err() != nil && rs.canWrite() && rec.Status == "succeeded" {
		// Uploads stopped part-way are not failures of the remote, so they
		// were not reported one by one; the build must not look complete.
		// A build whose stages were interrupted reports that instead.
		return fmt.Errorf("interrupted while uploading to the remote cache %s: the workspace and the local cache are complete; upload this run later with mlb push: %w", rs.remote, ctx.Err())
	}
	if saveRecord && rec.Status == "succeeded" && rs.canWrite() {
		rs.noteUpload(ctx, pushRecord(ctx, rs.remote, w.Store, rec))
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.uploadErr
}

// pushRecord uploads the pipeline file and source inputs rec names, then
// rec itself.
func pushRecord(ctx context.Context, r *remote.Remote, store *cache.Store, rec *RunRecord) error {
	blobs := []cache.Digest{rec.Pipeline}
	sources, err := store.OutputBlobs(rec.Sources)
	if err != nil {
		return fmt.Errorf("upload run record %s: %w", rec.Hash, err)
	}
	if err := r.Upload(ctx, store, append(blobs, sources...)); err != nil {
		return err
	}
	// The remote gets the full record: the one a short record shares its
	// parts with may never be uploaded.
	full := *rec
	full.Version, full.Repeats = runVersion, ""
	data, err := cache.EncodeCompressed(&full)
	if err != nil {
		return fmt.Errorf("upload run record %s: %w", rec.Hash, err)
	}
	return r.PutRun(ctx, runFileName(rec), data)
}

// removeStale removes the workspace copy of each of ar's outputs that
// differs from it, so that the workspace never shows a result other than
// the one the run records.
func removeStale(w *Workspace, ar *cache.ActionResult) error {
	for _, o := range ar.Outputs {
		p := w.Abs(o.Path)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if w.Store.Matches(o, p, w.Index) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("remove outdated output %s: %w", o.Path, err)
		}
	}
	return nil
}

// Close closes the remote. Call it after the build.
func (rs *RemoteSession) Close() error {
	if rs == nil {
		return nil
	}
	return rs.remote.Close()
}

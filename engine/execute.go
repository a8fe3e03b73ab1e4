package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mlbuild/mlb/cache"
	"github.com/mlbuild/mlb/stages"
)

// logTailLines is how much of a failed stage's log a build shows.
const logTailLines = 20

// buildStage brings one stage up to date: it keeps outputs that match the
// cached result for the stage's key, restores the ones that do not, or runs
// the stage when the key has no usable result.
func (w *Workspace) buildStage(ctx context.Context, s *Stage, opts BuildOptions, st *buildState) *StageRun {
	start := time.Now()
	r := &StageRun{Name: s.Name}
	fail := func(err error) *StageRun {
		r.State, r.Error, r.Duration = StateFailed, err.Error(), time.Since(start)
		return r
	}
	opts.Events.StageStarted(s.Name, "checking")

	parts, err := w.keyPartsFrom(s, st.inputState(opts.Remote.inputState(ctx, w, opts)))
	if err != nil {
		return fail(err)
	}
	r.Parts, r.Key = parts, parts.Key()

	// A cached result: keep or restore the outputs.
	var unusable string
	if s.Cache && !opts.Force {
		var ar *cache.ActionResult
		if ar = st.memo.get(w.Store, r.Key); ar == nil {
			ar, err = w.Store.GetAction(r.Key)
		}
		if cache.IsMiss(err) && opts.Remote != nil {
			ar, err = opts.Remote.getAction(ctx, s, r.Key)
		}
		if err == nil {
			restored, err := opts.Remote.restoreOutputs(ctx, w, s, ar, r, opts)
			if err == nil && !restored && !st.memo.trusted {
				w.storeMissingOutputs(s, ar)
			}
			if err == nil {
				r.Outputs, r.Metrics, r.Log, r.result = ar.Outputs, metricsOf(ar), ar.Log, ar
				r.Duration = time.Since(start)
				r.State = StateUpToDate
				if restored {
					r.State = StateRestored
					r.Reasons = runReasons(s, parts, st.last.stage(s.Name), opts.Force)
				}
				return r
			}
			if !cache.IsMiss(err) {
				return fail(err)
			}
			slog.Debug("cached result unusable, running stage", "stage", s.Name, "err", err)
			unusable = "cached result unusable: " + err.Error()
		} else if !cache.IsMiss(err) {
			return fail(err)
		}
	}

	// Execute, with the inputs that a remote cache only recorded put in
	// place first, and write the result back to the remote.
	last := st.last.stage(s.Name)
	r.Reasons = runReasons(s, parts, last, opts.Force)
	if unusable != "" {
		r.Reasons = append(r.Reasons, unusable)
	}
	if err := opts.Remote.materializeInputs(ctx, w, s, r, opts); err != nil {
		return fail(err)
	}
	w.keepForeignOutputs(s, last)
	st.sources.add(s.Name, parts)
	opts.Events.StageStarted(s.Name, "running")
	if err := w.execute(ctx, s, opts, r); err != nil {
		return fail(err)
	}
	opts.Remote.upload(ctx, w, r)
	r.State = StateExecuted
	r.Duration = time.Since(start)
	return r
}

// runReasons lists why a stage with these key parts may have to run.
func runReasons(s *Stage, parts, last *KeyParts, force bool) []string {
	switch {
	case force:
		return []string{"forced with --force"}
	case !s.Cache:
		return []string{"cache = false: runs every build"}
	case last == nil:
		return []string{"never built"}
	}
	return changedParts(last, parts)
}

// restoreOutputs makes the workspace hold ar's outputs, restoring those that
// are missing or differ. It reports whether it restored anything.
func (w *Workspace) restoreOutputs(s *Stage, ar *cache.ActionResult, ev Events) (bool, error) {
	if len(ar.Outputs) != len(s.Outputs) {
		return false, &cache.CorruptError{What: "action result", Name: ar.Key.String(), Reason: "output list does not match the stage"}
	}
	var stale []cache.Output
	for _, o := range ar.Outputs {
		if !w.Store.Matches(o, w.Abs(o.Path), w.Index) {
			stale = append(stale, o)
		}
	}
	if len(stale) == 0 {
		return false, nil
	}
	if missing := w.Store.MissingBlobs(ar); len(missing) > 0 {
		return false, fmt.Errorf("restore %s: %d blobs, first %s: %w", s.Name, len(missing), missing[0], cache.ErrNotFound)
	}
	ev.StageStarted(s.Name, "restoring")
	for _, o := range stale {
		if err := w.Store.Restore(o, w.Abs(o.Path)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// storeMissingOutputs stores again, from the workspace, the outputs of the
// up-to-date stage s whose blobs the cache lost, as after a collection or
// a check that removed corrupt blobs. The workspace holds the same bytes,
// so the result can then be restored and checked out again. A failure
// costs only a later run of the stage, so it is logged, not returned.
func (w *Workspace) storeMissingOutputs(s *Stage, ar *cache.ActionResult) {
	for _, o := range ar.Outputs {
		if len(w.Store.MissingFor([]cache.Output{o})) == 0 {
			continue
		}
		stored, err := w.Store.StoreOutput(o.Name, o.Path, w.Abs(o.Path), w.Index)
		if err == nil && stored.Digest != o.Digest {
			err = fmt.Errorf("the workspace copy hashes to %s, not %s", stored.Digest, o.Digest)
		}
		if err != nil {
			slog.Warn("could not store again an output the cache lost", "stage", s.Name, "output", o.Path, "err", err)
		}
	}
}

// execute runs s's command and, when it succeeds and wrote every output,
// stores the outputs and files the action result.
func (w *Workspace) execute(ctx context.Context, s *Stage, opts BuildOptions, r *StageRun) error {
	// Outputs are removed first, so a stage never sees stale results and a
	// missing output is noticed.
	for _, o := range s.Outputs {
		if err := w.checkOutputPath(o); err != nil {
			return fmt.Errorf("stage %s: %w", s.Name, err)
		}
	}
	for _, o := range s.Outputs {
		p := w.Abs(o.Path)
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("remove old output %s: %w", o.Path, err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("create folder for output %s: %w", o.Path, err)
		}
	}
	logDir := filepath.Join(w.Root, StateDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(logDir, logFileName(s.Name))
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create log: %w", err)
	}
	defer logFile.Close()

	env := append([]string(nil), opts.Env...)
	for _, k := range sortedKeys(s.Env) {
		env = append(env, k+"="+s.Env[k])
	}
	dir := w.Root
	if s.Workdir != "" {
		dir = w.Abs(s.Workdir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create workdir: %w", err)
		}
	}
	group := w.groups.get(w.runningDir())
	res, runErr := stages.Run(ctx, stages.Command{
		Argv: s.Argv, Shell: s.Shell, Dir: dir, Env: env,
		Output: logFile, Timeout: s.Timeout, Group: group,
	})
	w.groups.put(group)
	r.ExitCode = res.ExitCode
	if runErr != nil {
		r.LogTail = stages.Tail(logPath, logTailLines)
		return fmt.Errorf("stage %s: %w", s.Name, runErr)
	}
	if res.ExitCode != 0 {
		r.LogTail = stages.Tail(logPath, logTailLines)
		return fmt.Errorf("stage %s: command exited with status %d (log: %s)", s.Name, res.ExitCode, relPath(w.Root, logPath))
	}
	for _, o := range s.Outputs {
		if _, err := os.Lstat(w.Abs(o.Path)); err != nil {
			r.LogTail = stages.Tail(logPath, logTailLines)
			return fmt.Errorf("stage %s: command exited 0 but did not write declared output %s (%s)", s.Name, o.Name, o.Path)
		}
	}

	// Metrics, then outputs and log into the store, then the action
	// result: a reader that finds the action result finds its blobs.
	r.Metrics = map[string]float64{}
	for _, m := range s.Metrics {
		values, err := readMetrics(w.Abs(m))
		if err != nil {
			return fmt.Errorf("stage %s: %w", s.Name, err)
		}
		for k, v := range values {
			r.Metrics[k] = v
		}
	}
	store := s.Cache && !opts.noStore
	if store {
		if err := w.checkInputsUnchanged(s, r.Parts); err != nil {
			return err
		}
	}
	for _, o := range s.Outputs {
		out, err := w.describeOutput(o, store)
		if err != nil {
			return fmt.Errorf("stage %s: store output %s: %w", s.Name, o.Name, err)
		}
		r.Outputs = append(r.Outputs, out)
	}
	sort.Slice(r.Outputs, func(i, j int) bool { return r.Outputs[i].Path < r.Outputs[j].Path })
	if !store {
		return nil
	}
	// An empty log is not stored: a zero Log digest means "no output".
	if fi, err := os.Stat(logPath); err != nil || fi.Size() > 0 {
		if r.Log, _, err = w.Store.PutFile(logPath); err != nil {
			return err
		}
	}
	ar := &cache.ActionResult{
		Key: r.Key, Stage: s.Name, Outputs: r.Outputs, Log: r.Log,
		ExitCode: res.ExitCode, Duration: res.Duration, Created: time.Now().UTC(),
	}
	if len(r.Metrics) > 0 {
		ar.Metrics, _ = json.Marshal(r.Metrics)
	}
	if err := w.Store.PutAction(ar); err != nil {
		return err
	}
	r.result = ar
	return nil
}

// describeOutput stores output o, or only computes its digest when store
// is false.
func (w *Workspace) describeOutput(o PathRef, store bool) (cache.Output, error) {
	if store {
		return w.Store.StoreOutput(o.Name, o.Path, w.Abs(o.Path), w.Index)
	}
	in, err := w.inputState(o.Path)
	if err != nil {
		return cache.Output{}, err
	}
	return cache.Output{Name: o.Name, Path: o.Path, Kind: in.Kind, Perm: in.Perm, Digest: in.Digest}, nil
}

func metricsOf(ar *cache.ActionResult) map[string]float64 {
	if len(ar.Metrics) == 0 {
		return nil
	}
	var m map[string]float64
	if err := json.Unmarshal(ar.Metrics, &m); err != nil {
		return nil
	}
	return m
}

// logFileName returns the name of the log file of the stage named name.
// A for_each key is part of the name and may hold any text, such as the
// model name google/flan-t5. Every byte that is not safe in a file name
// is written as %XX, so "/" or ".." cannot lead out of the logs folder.
func logFileName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		safe := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.[]=+,@", c) >= 0
		if safe && !(c == '.' && i == 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String() + ".log"
}

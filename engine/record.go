package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zeebo/blake3"

	"github.com/mlbuild/mlb/cache"
)

// RunRecord is the record of one mlb build. It is stored, zstd-compressed JSON,
// in the cache's runs folder, one file per build.
type RunRecord struct {
	Version  int                `json:"version"`
	Hash     string             `json:"hash"`
	Started  time.Time          `json:"started"`
	Finished time.Time          `json:"finished"`
	Host     string             `json:"host"`
	Git      *GitState          `json:"git,omitempty"`
	Pipeline cache.Digest       `json:"pipeline"` // blob of mlb.hcl
	Params   json.RawMessage    `json:"params"`
	Targets  []string           `json:"targets,omitempty"`
	Status   string             `json:"status"` // "succeeded" or "failed"
	Stages   []*StageRun        `json:"stages"`
	Sources  []cache.Output     `json:"sources,omitempty"` // source inputs, stored in the cache
	Metrics  map[string]float64 `json:"metrics,omitempty"`

	// Repeats names the file of an earlier record of the same run whose
	// sources and stage key parts, outputs, metrics and logs this one
	// shares. A build that finds every stage up to date writes such a
	// short record; ListRuns fills in the shared parts.
	Repeats string `json:"repeats,omitempty"`

	file  string // name of the record's file in the runs folder
	quick bool   // found up to date from the no-op stamp
}

// GitState is the commit the workspace was at, and whether it had changes.
type GitState struct {
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
}

// Stage states in a run record.
const (
	StateExecuted = "executed"
	StateRestored = "restored"
	StateUpToDate = "up-to-date"
	StateFailed   = "failed"
	StateSkipped  = "skipped" // a stage it depends on failed
	StateNotRun   = "not-run" // the build stopped before it
)

// StageRun is one stage's part in a run.
type StageRun struct {
	Name     string             `json:"name"`
	Key      cache.ActionKey    `json:"key"`
	State    string             `json:"state"`
	Reasons  []string           `json:"reasons,omitempty"`
	Duration time.Duration      `json:"duration_ns"`
	ExitCode int                `json:"exit_code"`
	Outputs  []cache.Output     `json:"outputs,omitempty"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	Log      cache.Digest       `json:"log"`
	Parts    *KeyParts          `json:"parts,omitempty"`
	Error    string             `json:"error,omitempty"`
	LogTail  []string           `json:"-"`

	result *cache.ActionResult // the action result the stage now matches
}

// Counts returns how many stages were executed and restored in r.
func (r *RunRecord) Counts() (executed, restored, upToDate, failed int) {
	for _, s := range r.Stages {
		switch s.State {
		case StateExecuted:
			executed++
		case StateRestored:
			restored++
		case StateUpToDate:
			upToDate++
		case StateFailed:
			failed++
		}
	}
	return
}

const runVersion = 1

// runHash digests the pipeline source, the resolved params and every stage
// key of a run.
func runHash(pipeline cache.Digest, params []byte, stages []*StageRun) string {
	h := blake3.New()
	fmt.Fprintf(h, "mlb-run-v1\n%s\n%d:%s\n", pipeline, len(params), params)
	names := make([]string, 0, len(stages))
	keys := map[string]cache.ActionKey{}
	for _, s := range stages {
		names = append(names, s.Name)
		keys[s.Name] = s.Key
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s %s\n", keys[n], n)
	}
	var d cache.Digest
	h.Sum(d[:0])
	return d.String()
}

func runsDir(s *cache.Store) string { return filepath.Join(s.Root(), "runs") }

// runSuffix ends the name of every run record file.
const runSuffix = ".json.zst"

// runFileName is the name SaveRun gives rec's file: the start time first,
// so that names sort by time.
func runFileName(rec *RunRecord) string {
	return fmt.Sprintf("%020d-%s%s", rec.Started.UnixNano(), rec.Hash, runSuffix)
}

// SaveRun stores r in the cache's runs folder. The file name starts with
// the start time, so names sort by time.
func SaveRun(store *cache.Store, r *RunRecord) error {
	return saveRun(store, r, true)
}

// saveRun is SaveRun, with the record's own fsync only when durable is set.
func saveRun(store *cache.Store, r *RunRecord, durable bool) error {
	data, err := encodeRun(r)
	if err != nil {
		return err
	}
	return writeRun(store, r, data, durable)
}

func encodeRun(r *RunRecord) ([]byte, error) {
	r.Version = runVersion
	data, err := cache.EncodeCompressed(r)
	if err != nil {
		return nil, fmt.Errorf("save run record: %w", err)
	}
	return data, nil
}

// writeRun stores data, the encoded form of r, with an fsync of its own
// when durable is set.
func writeRun(store *cache.Store, r *RunRecord, data []byte, durable bool) error {
	name := runFileName(r)
	tmp, err := os.CreateTemp(filepath.Join(store.Root(), "tmp"), "run-*")
	if err != nil {
		return fmt.Errorf("save run record: %w", err)
	}
	if _, err := tmp.Write(data); err == nil && durable {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(runsDir(store), name))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save run record: %w", err)
	}
	return nil
}

// short returns the form in which a record that repeats another is
// stored: without sources, and without the stage key parts, outputs,
// metrics and logs, which the other holds for the same stage keys.
func (r *RunRecord) short() *RunRecord {
	c := *r
	c.Sources = nil
	c.Stages = make([]*StageRun, len(r.Stages))
	for i, s := range r.Stages {
		c.Stages[i] = &StageRun{Name: s.Name, Key: s.Key, State: s.State, Duration: s.Duration}
	}
	return &c
}

// fillShared completes each record that repeats another with the key parts
// and sources of that other record, and drops those whose other record is
// gone or is not of the same run.
func fillShared(runs []*RunRecord) []*RunRecord {
	byFile := make(map[string]*RunRecord, len(runs))
	for _, r := range runs {
		byFile[r.file] = r
	}
	out := runs[:0]
	for _, r := range runs {
		if r.Repeats != "" {
			base := byFile[r.Repeats]
			if base == nil || base.Repeats != "" || base.Hash != r.Hash {
				continue
			}
			shared := make(map[string]*StageRun, len(base.Stages))
			for _, s := range base.Stages {
				shared[s.Name] = s
			}
			complete := true
			for _, s := range r.Stages {
				b := shared[s.Name]
				if b == nil || b.Key != s.Key {
					complete = false
					break
				}
				s.Parts, s.Outputs, s.Metrics, s.Log, s.ExitCode = b.Parts, b.Outputs, b.Metrics, b.Log, b.ExitCode
			}
			if !complete {
				continue
			}
			r.Sources = base.Sources
		}
		out = append(out, r)
	}
	return out
}

// ListRuns returns the stored run records, newest first. Records that
// cannot be read are skipped: a damaged record must not hide the others.
func ListRuns(store *cache.Store) ([]*RunRecord, error) {
	entries, err := os.ReadDir(runsDir(store))
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var runs []*RunRecord
	for i := len(entries) - 1; i >= 0; i-- {
		name := entries[i].Name()
		if !strings.HasSuffix(name, runSuffix) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(runsDir(store), name))
		if err != nil {
			continue
		}
		var r RunRecord
		if cache.DecodeCompressed(data, &r) != nil || r.Version != runVersion {
			continue
		}
		r.file = name
		runs = append(runs, &r)
	}
	return fillShared(runs), nil
}

// FindRun returns the newest run whose hash starts with prefix.
func FindRun(store *cache.Store, prefix string) (*RunRecord, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 4 {
		return nil, fmt.Errorf("run hash prefix %q is too short: give at least 4 characters", prefix)
	}
	runs, err := ListRuns(store)
	if err != nil {
		return nil, err
	}
	var found *RunRecord
	hashes := map[string]bool{}
	for _, r := range runs {
		if strings.HasPrefix(r.Hash, prefix) {
			if found == nil {
				found = r
			}
			hashes[r.Hash] = true
		}
	}
	switch {
	case found == nil:
		return nil, fmt.Errorf("no run matches %q: list runs with mlb runs", prefix)
	case len(hashes) > 1:
		return nil, fmt.Errorf("run prefix %q is ambiguous: it matches %d runs; give more characters", prefix, len(hashes))
	}
	return found, nil
}

// readMetrics reads a metrics JSON file and flattens it. Nested objects
// join their keys with dots. Numbers, numeric strings and bools (as 0 or 1)
// are kept, and other values are dropped.
func readMetrics(path string) (map[string]float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("metrics file %s is not valid JSON: %w", path, err)
	}
	out := map[string]float64{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				walk(joinName(prefix, k), e)
			}
		case float64:
			out[prefix] = t
		case bool:
			out[prefix] = 0
			if t {
				out[prefix] = 1
			}
		case string:
			if f, err := strconv.ParseFloat(t, 64); err == nil {
				out[prefix] = f
			}
		}
	}
	walk("", v)
	if len(out) == 0 {
		return nil, errors.New("metrics file " + path + " has no numbers")
	}
	return out, nil
}

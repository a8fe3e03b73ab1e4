package engine

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlbuild/mlb/cache"
)

// A build that changes nothing leaves a no-op stamp in the state folder.
// It holds the stat data of every input and output of every stage, taken
// from the file-state index entries whose digests went into the stage
// keys, and the run's stage keys, metrics and record. The next build of the same
// graph compares the stamp with fresh stat calls, made on every core, and
// when all match, every stage is up to date with the same key as before.
// It then records the run as a repeat of the last one without computing a
// key, reading the last-built state or the memo, or checking an output
// against its cached result.
//
// The stamp holds only what the index would trust: a path whose stat data
// is unchanged has unchanged contents. Anything else a key depends on is
// in the graph's key (pipeline text, params, the mlb binary) or the cache's
// removal epoch, which gc changes. A build that does not use the stamp
// removes it, and writes a new one when it ends as a repeat of its record.
const (
	noopFile    = "noop.bin"
	noopVersion = "mlb-noop-1"
)

// noopStamp is the decoded stamp.
type noopStamp struct {
	graph    cache.Digest // Graph.key
	epoch    string       // the cache's removal epoch
	pipeline cache.Digest // the blob of mlb.hcl
	hash     string       // the run's hash
	base     string       // the record file a repeat refers to
	stages   []noopStage  // in graph order
	metrics  map[string]float64
	paths    []string // workspace-relative, each once
	stats    []cache.FileStat
}

type noopStage struct {
	name string
	key  cache.ActionKey
}

func (w *Workspace) noopPath() string { return filepath.Join(w.Root, StateDir, noopFile) }

// noopEligible reports whether a build with opts may use or leave a stamp:
// it builds the whole graph with the local cache only, records its run,
// and its graph has a key and no stage that runs on every build.
func noopEligible(g *Graph, opts BuildOptions) bool {
	if g.key == (cache.Digest{}) || len(opts.Targets) > 0 || opts.Force || opts.Remote != nil || opts.NoRecord || opts.noStore {
		return false
	}
	for _, s := range g.Stages {
		if !s.Cache {
			return false
		}
	}
	return true
}

// quickNoop returns the record of a build that finds, from the stamp, that
// every stage is up to date, after reporting each stage to opts.Events and
// saving the record. It returns nil, having removed the stamp, when the
// stamp is missing or does not match; the build then runs as usual.
func (w *Workspace) quickNoop(g *Graph, opts BuildOptions) (*RunRecord, error) {
	if !noopEligible(g, opts) {
		w.dropNoop()
		return nil, nil
	}
	started := time.Now().UTC()
	st := w.readNoop(g)
	if st == nil {
		w.dropNoop()
		return nil, nil
	}
	gitDone := make(chan *GitState, 1)
	go func() { gitDone <- gitState(w.Root) }()

	if !w.statsMatch(st) || w.lastRunFile(st.hash) != st.base {
		<-gitDone
		w.dropNoop()
		return nil, nil
	}

	rec := &RunRecord{
		Started:  started,
		Host:     hostname(),
		Pipeline: st.pipeline,
		Params:   g.Params.JSON(),
		Status:   "succeeded",
		Metrics:  st.metrics,
		Hash:     st.hash,
		Repeats:  st.base,
		quick:    true,
	}
	for _, s := range st.stages {
		r := &StageRun{Name: s.name, Key: s.key, State: StateUpToDate}
		rec.Stages = append(rec.Stages, r)
		opts.Events.StageFinished(r)
	}
	rec.Finished = time.Now().UTC()
	rec.Git = <-gitDone
	return rec, saveRun(w.Store, rec.short(), false)
}

// readNoop returns the stamp if it is for graph g and the cache's current
// epoch, else nil.
func (w *Workspace) readNoop(g *Graph) *noopStamp {
	data, err := os.ReadFile(w.noopPath())
	if err != nil {
		return nil
	}
	if data, err = unseal(data); err != nil {
		return nil
	}
	st, err := decodeNoop(data)
	if err != nil || st.graph != g.key || st.epoch == "" || st.epoch != w.Store.Epoch() || len(st.stages) != len(g.Stages) {
		return nil
	}
	for i, s := range st.stages {
		if g.Stages[i].Name != s.name {
			return nil
		}
	}
	return st
}

// statsMatch stats every path of st, spread over the cores, and reports
// whether all have the stat data st holds.
func (w *Workspace) statsMatch(st *noopStamp) bool {
	workers := runtime.GOMAXPROCS(0)
	const chunk = 256
	var next atomic.Int64
	var differs atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !differs.Load() {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(st.paths) {
					return
				}
				hi := min(lo+chunk, len(st.paths))
				for i := lo; i < hi; i++ {
					fi, err := w.stat(st.paths[i])
					if err != nil || cache.StatOf(fi) != st.stats[i] {
						differs.Store(true)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return !differs.Load()
}

// dropNoop removes the stamp, as the build that calls it may change what
// the stamp describes.
func (w *Workspace) dropNoop() { _ = os.Remove(w.noopPath()) }

// saveNoop writes the stamp for a successful build whose record, or the
// record it repeats, is base. It writes nothing when a path is not a plain
// file or has no settled index entry with the digest the build used.
func (w *Workspace) saveNoop(g *Graph, opts BuildOptions, rec *RunRecord, base string) {
	if !noopEligible(g, opts) || rec.Status != "succeeded" || len(rec.Stages) != len(g.Stages) {
		return
	}
	st := &noopStamp{graph: g.key, epoch: w.Store.Epoch(), pipeline: rec.Pipeline, hash: rec.Hash, base: base, metrics: rec.Metrics}
	if st.epoch == "" {
		return
	}
	seen := map[string]bool{}
	add := func(path string, kind cache.EntryKind, d cache.Digest) bool {
		if kind != cache.KindFile {
			return false
		}
		if seen[path] {
			return true
		}
		stat, indexed, ok := w.Index.Settled(w.Abs(path))
		if !ok || indexed != d {
			return false
		}
		seen[path] = true
		st.paths = append(st.paths, path)
		st.stats = append(st.stats, stat)
		return true
	}
	for i, r := range rec.Stages {
		if r.Name != g.Stages[i].Name || r.State != StateUpToDate && r.State != StateExecuted && r.State != StateRestored || r.Parts == nil {
			return
		}
		st.stages = append(st.stages, noopStage{name: r.Name, key: r.Key})
		for _, in := range r.Parts.Inputs {
			if !add(in.Path, in.Kind, in.Digest) {
				return
			}
		}
		for _, o := range r.Outputs {
			if !add(o.Path, o.Kind, o.Digest) {
				return
			}
		}
	}
	_ = writeState(w.noopPath(), seal(st.encode()))
}

func (st *noopStamp) encode() []byte {
	e := &encoder{buf: make([]byte, 0, 64*len(st.paths)+64*len(st.stages)+256)}
	e.str(noopVersion)
	e.raw(st.graph[:])
	e.str(st.epoch)
	e.raw(st.pipeline[:])
	e.str(st.hash)
	e.str(st.base)
	e.uint(uint64(len(st.stages)))
	for _, s := range st.stages {
		e.str(s.name)
		e.raw(s.key[:])
	}
	e.uint(uint64(len(st.metrics)))
	for _, k := range sortedKeys(st.metrics) {
		e.str(k)
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(st.metrics[k]))
	}
	e.uint(uint64(len(st.paths)))
	for i, p := range st.paths {
		s := st.stats[i]
		e.str(p)
		e.int(s.Size)
		e.int(s.Mtime)
		e.int(s.Ctime)
		e.uint(s.Inode)
		e.uint(uint64(s.Mode))
	}
	return e.buf
}

func decodeNoop(data []byte) (*noopStamp, error) {
	d := &decoder{data: data}
	if d.str() != noopVersion {
		return nil, errBadEncoding
	}
	st := &noopStamp{}
	d.raw(st.graph[:])
	st.epoch = d.str()
	d.raw(st.pipeline[:])
	st.hash = d.str()
	st.base = d.str()

	st.stages = make([]noopStage, d.count())
	for i := range st.stages {
		st.stages[i].name = d.str()
		d.raw(st.stages[i].key[:])
	}
	if n := d.count(); n > 0 {
		st.metrics = make(map[string]float64, n)
		for range n {
			k := d.str()
			var b [8]byte
			d.raw(b[:])
			st.metrics[k] = math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
		}
	}

	n := d.count()
	st.paths = make([]string, n)
	st.stats = make([]cache.FileStat, n)
	for i := range n {
		st.paths[i] = d.str()
		st.stats[i] = cache.FileStat{Size: d.int(), Mtime: d.int(), Ctime: d.int(), Inode: d.uint(), Mode: uint32(d.uint())}
	}
	if d.err != nil || len(d.data) != 0 {
		return nil, errBadEncoding
	}
	return st, nil
}

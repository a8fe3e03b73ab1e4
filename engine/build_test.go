package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlbuild/mlb/cache"
)

// Every stage here appends a line to counts/NAME when its command runs, so
// a test can tell an execution from a restore.
const countingPipeline = `
stage "prep" {
  inputs  = { raw = "data/raw.txt" }
  outputs = { clean = "build/clean.txt" }
  command = "echo run >> counts/prep && tr a-z A-Z < ${inputs.raw} > ${outputs.clean}"
}

stage "train" {
  inputs  = { clean = stage.prep.outputs.clean, cfg = "data/cfg.txt" }
  outputs = { model = "build/model" }
  command = "echo run >> counts/train && mkdir -p ${outputs.model}/parts && cat ${inputs.clean} ${inputs.cfg} > ${outputs.model}/weights && echo v1 > ${outputs.model}/parts/meta"
}

stage "report" {
  inputs  = { model = stage.train.outputs.model }
  outputs = { report = "build/report.txt" }
  command = "echo run >> counts/report && wc -c < ${inputs.model}/weights > ${outputs.report}"
}

stage "side" {
  inputs  = { other = "data/other.txt" }
  outputs = { copy = "build/side.txt" }
  command = ["sh", "-c", "echo run >> counts/side && cp \"$0\" \"$1\"", inputs.other, outputs.copy]
}
`

// countingFiles are the inputs of countingPipeline.
var countingFiles = map[string]string{
	"data/raw.txt":   "hello\n",
	"data/cfg.txt":   "depth=3\n",
	"data/other.txt": "side input\n",
	"counts/.keep":   "",
}

// runs returns how many times the stage named name has executed in root.
func runs(t *testing.T, root, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "counts", name))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("run\n"))
}

// build loads the workspace at root and builds it, as one mlb build
// process would: a fresh workspace and file index each time.
func build(t *testing.T, ctx context.Context, root string, opts BuildOptions) (*RunRecord, error) {
	t.Helper()
	g := load(t, root, ParamSources{})
	w, err := OpenWorkspace(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			t.Errorf("close workspace: %v", err)
		}
	}()
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	return w.Build(ctx, g, opts)
}

func states(rec *RunRecord) map[string]string {
	out := map[string]string{}
	for _, s := range rec.Stages {
		out[s.Name] = s.State
	}
	return out
}

func stageRun(t *testing.T, rec *RunRecord, name string) *StageRun {
	t.Helper()
	for _, s := range rec.Stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("run record has no stage %s", name)
	return nil
}

func readWorkspaceFile(t *testing.T, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBuildIncremental builds one workspace step by step. Each step changes
// something and lists the state every stage must end in.
func TestBuildIncremental(t *testing.T) {
	root := newWorkspace(t, countingPipeline, countingFiles)
	write := func(rel, content string) func(t *testing.T) {
		return func(t *testing.T) { writeFiles(t, root, map[string]string{rel: content}) }
	}
	steps := []struct {
		name   string
		change func(t *testing.T)
		states map[string]string
	}{
		{"first build", func(*testing.T) {}, map[string]string{
			"prep": StateExecuted, "train": StateExecuted, "report": StateExecuted, "side": StateExecuted,
		}},
		{"nothing changed", func(*testing.T) {}, map[string]string{
			"prep": StateUpToDate, "train": StateUpToDate, "report": StateUpToDate, "side": StateUpToDate,
		}},
		{"config changed", write("data/cfg.txt", "depth=12\n"), map[string]string{
			"prep": StateUpToDate, "train": StateExecuted, "report": StateExecuted, "side": StateUpToDate,
		}},
		{"side input changed", write("data/other.txt", "another side input\n"), map[string]string{
			"prep": StateUpToDate, "train": StateUpToDate, "report": StateUpToDate, "side": StateExecuted,
		}},
		// prep runs again but writes the same bytes, so nothing after it does.
		{"same output", write("data/raw.txt", "HELLO\n"), map[string]string{
			"prep": StateExecuted, "train": StateUpToDate, "report": StateUpToDate, "side": StateUpToDate,
		}},
		{"output deleted", func(t *testing.T) {
			if err := os.Remove(filepath.Join(root, "build", "report.txt")); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{
			"prep": StateUpToDate, "train": StateUpToDate, "report": StateRestored, "side": StateUpToDate,
		}},
		{"output dir edited", write("build/model/extra", "stray file"), map[string]string{
			"prep": StateUpToDate, "train": StateRestored, "report": StateUpToDate, "side": StateUpToDate,
		}},
		// The first config again: train's key is the first build's, so its
		// result comes from the cache, and report's too.
		{"config reverted", write("data/cfg.txt", "depth=3\n"), map[string]string{
			"prep": StateUpToDate, "train": StateRestored, "report": StateRestored, "side": StateUpToDate,
		}},
		{"forced", func(*testing.T) {}, map[string]string{
			"prep": StateExecuted, "train": StateExecuted, "report": StateExecuted, "side": StateExecuted,
		}},
	}
	counts := map[string]int{}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) {
			step.change(t)
			rec, err := build(t, context.Background(), root, BuildOptions{Jobs: 2, Force: step.name == "forced"})
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			for name, want := range step.states {
				got := stageRun(t, rec, name).State
				if got != want {
					t.Errorf("stage %s: %s, want %s", name, got, want)
				}
				if want == StateExecuted {
					counts[name]++
				}
				if n := runs(t, root, name); n != counts[name] {
					t.Errorf("stage %s has executed %d times, want %d", name, n, counts[name])
					counts[name] = n
				}
			}
			if rec.Status != "succeeded" {
				t.Errorf("run status = %s, want succeeded", rec.Status)
			}
		}) {
			t.FailNow()
		}
	}

	// The outputs hold what the last commands wrote.
	if got := readWorkspaceFile(t, root, "build/model/weights"); got != "HELLO\ndepth=3\n" {
		t.Errorf("build/model/weights = %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "build", "model", "extra")); !os.IsNotExist(err) {
		t.Errorf("restore kept a stray file in build/model (stat error %v)", err)
	}
	if got := strings.TrimSpace(readWorkspaceFile(t, root, "build/report.txt")); got != "14" {
		t.Errorf("build/report.txt = %q, want 14", got)
	}
}

// runningEvents tracks how many stages run at once.
type runningEvents struct {
	mu         sync.Mutex
	running    map[string]bool
	maxRunning int
	finished   int
}

func (e *runningEvents) StageStarted(name, action string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if action == "running" {
		e.running[name] = true
		e.maxRunning = max(e.maxRunning, len(e.running))
	}
}

func (e *runningEvents) StageFinished(r *StageRun) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.running, r.Name)
	e.finished++
}

// Independent stages run side by side, up to Jobs at a time. Each stage
// waits until four have started, so a build that ran them one by one
// would show a maximum of one.
func TestBuildParallel(t *testing.T) {
	const stages = 8
	var src strings.Builder
	for i := range stages {
		fmt.Fprintf(&src, `
stage "p%d" {
  outputs = { out = "build/p%d.txt" }
  command = "touch started/p%d; i=0; while [ $(ls started | wc -l) -lt 4 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo run >> counts/p%d; echo p%d > ${outputs.out}"
}
`, i, i, i, i, i)
	}
	root := newWorkspace(t, src.String(), map[string]string{"started/.keep": "", "counts/.keep": ""})
	ev := &runningEvents{running: map[string]bool{}}
	rec, err := build(t, context.Background(), root, BuildOptions{Jobs: 4, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	for i := range stages {
		name := fmt.Sprintf("p%d", i)
		if got := stageRun(t, rec, name).State; got != StateExecuted {
			t.Errorf("stage %s: %s, want executed", name, got)
		}
		if got := readWorkspaceFile(t, root, "build/"+name+".txt"); got != name+"\n" {
			t.Errorf("build/%s.txt = %q", name, got)
		}
		if n := runs(t, root, name); n != 1 {
			t.Errorf("stage %s executed %d times, want 1", name, n)
		}
	}
	if ev.maxRunning != 4 {
		t.Errorf("at most %d stages ran at once, want 4 (Jobs)", ev.maxRunning)
	}
	if ev.finished != stages {
		t.Errorf("StageFinished called %d times, want %d", ev.finished, stages)
	}

	// A second build, as parallel, executes nothing.
	rec, err = build(t, context.Background(), root, BuildOptions{Jobs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if executed, _, upToDate, _ := rec.Counts(); executed != 0 || upToDate != stages {
		t.Errorf("second build: %d executed, %d up to date; want 0 and %d", executed, upToDate, stages)
	}
}

// processGone reports whether pid has exited, waiting a while for it and
// treating a zombie as exited.
func processGone(pid int) bool {
	for range 500 {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Cancelling the build stops a running stage, records it as failed, files
// no action result for it and starts nothing more.
func TestBuildCancel(t *testing.T) {
	root := newWorkspace(t, `
stage "slow" {
  outputs = { out = "build/slow.txt" }
  command = "echo partial > ${outputs.out}; echo $$ > counts/slow.pid; exec sleep 30"
}

stage "after" {
  inputs  = { slow = stage.slow.outputs.out }
  outputs = { out = "build/after.txt" }
  command = "echo run >> counts/after; cp ${inputs.slow} ${outputs.out}"
}
`, map[string]string{"counts/.keep": ""})

	g := load(t, root, ParamSources{})
	w, err := OpenWorkspace(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		rec *RunRecord
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := w.Build(ctx, g, BuildOptions{Jobs: 2, Env: os.Environ()})
		done <- result{rec, err}
	}()

	// Cancel once the stage's process is running.
	pidFile := filepath.Join(root, "counts", "slow.pid")
	var pid int
	for range 1000 {
		if b, err := os.ReadFile(pidFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 {
		cancel()
		<-done
		t.Fatal("the slow stage never started")
	}
	cancel()
	res := <-done

	var be *BuildError
	if !errors.As(res.err, &be) {
		t.Fatalf("build error = %v, want a *BuildError", res.err)
	}
	slow := stageRun(t, res.rec, "slow")
	if slow.State != StateFailed {
		t.Errorf("slow: state %s, want failed", slow.State)
	}
	if !strings.Contains(slow.Error, "interrupted") {
		t.Errorf("slow: error %q, want interrupted", slow.Error)
	}
	if after := stageRun(t, res.rec, "after"); after.State != StateSkipped && after.State != StateNotRun {
		t.Errorf("after: %s, want skipped or not-run", after.State)
	}
	if n := runs(t, root, "after"); n != 0 {
		t.Errorf("stage after executed %d times, want 0", n)
	}
	if !processGone(pid) {
		t.Errorf("the slow stage's process %d still runs after cancellation", pid)
	}
	if _, err := w.Store.GetAction(slow.Key); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("action result for the cancelled stage: error %v, want ErrNotFound", err)
	}
}

func TestBuildKeepGoing(t *testing.T) {
	const pipeline = `
stage "bad" {
  outputs = { out = "build/bad.txt" }
  command = "echo run >> counts/bad; echo something broke; exit 3"
}

stage "child" {
  inputs  = { bad = stage.bad.outputs.out }
  outputs = { out = "build/child.txt" }
  command = "echo run >> counts/child; cp ${inputs.bad} ${outputs.out}"
}

stage "good" {
  outputs = { out = "build/good.txt" }
  command = "echo run >> counts/good; echo ok > ${outputs.out}"
}
`
	tests := []struct {
		name      string
		keepGoing bool
		good      string
	}{
		{"stop", false, StateNotRun},
		{"keep going", true, StateExecuted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newWorkspace(t, pipeline, map[string]string{"counts/.keep": ""})

			// One job: bad, declared first, runs first and fails before
			// good can start.
			rec, err := build(t, context.Background(), root, BuildOptions{Jobs: 1, KeepGoing: tt.keepGoing})
			var be *BuildError
			if !errors.As(err, &be) {
				t.Fatalf("build error = %v, want a *BuildError", err)
			}
			if len(be.Failed) != 1 || be.Failed[0].Name != "bad" {
				t.Errorf("failed stages = %v, want [bad]", be.Failed)
			}
			want := map[string]string{"bad": StateFailed, "child": StateSkipped, "good": tt.good}
			if got := states(rec); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("states = %v, want %v", got, want)
			}
			bad := stageRun(t, rec, "bad")
			if bad.ExitCode != 3 {
				t.Errorf("bad: exit code %d, want 3", bad.ExitCode)
			}
			if !strings.Contains(strings.Join(bad.LogTail, "\n"), "something broke") {
				t.Errorf("bad: log tail %q lacks the command's output", bad.LogTail)
			}
			if rec.Status != "failed" {
				t.Errorf("run status = %s, want failed", rec.Status)
			}
			if n := runs(t, root, "child"); n != 0 {
				t.Errorf("child executed %d times, want 0", n)
			}
			wantGood := 0
			if tt.keepGoing {
				wantGood = 1
			}
			if n := runs(t, root, "good"); n != wantGood {
				t.Errorf("good executed %d times, want %d", n, wantGood)
			}
		})
	}
}

// A stage with cache = false runs on every build; a stage after it runs
// only when its output changes.
func TestBuildNoCache(t *testing.T) {
	root := newWorkspace(t, `
stage "stamp" {
  cache   = false
  outputs = { out = "build/stamp.txt" }
  command = "echo run >> counts/stamp; echo fixed > ${outputs.out}"
}

stage "use" {
  inputs  = { stamp = stage.stamp.outputs.out }
  outputs = { out = "build/use.txt" }
  command = "echo run >> counts/use; cat ${inputs.stamp} > ${outputs.out}"
}
`, map[string]string{"counts/.keep": ""})

	for i := 1; i <= 3; i++ {
		rec, err := build(t, context.Background(), root, BuildOptions{Jobs: 2})
		if err != nil {
			t.Fatalf("build %d: %v", i, err)
		}
		if got := stageRun(t, rec, "stamp").State; got != StateExecuted {
			t.Errorf("build %d: stamp %s, want executed", i, got)
		}
		wantUse := StateUpToDate
		if i == 1 {
			wantUse = StateExecuted
		}
		if got := stageRun(t, rec, "use").State; got != wantUse {
			t.Errorf("build %d: use %s, want %s", i, got, wantUse)
		}
		if n := runs(t, root, "stamp"); n != i {
			t.Errorf("build %d: stamp executed %d times, want %d", i, n, i)
		}
		if n := runs(t, root, "use"); n != 1 {
			t.Errorf("build %d: use executed %d times, want 1", i, n)
		}
	}

	// Nothing of the uncached stage is filed in the action cache.
	w, err := OpenWorkspace(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	g := load(t, root, ParamSources{})
	parts, err := w.keyParts(g.Stage("stamp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Store.GetAction(parts.Key()); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("action result for the cache = false stage: error %v, want ErrNotFound", err)
	}
}

func TestBuildMissingOutput(t *testing.T) {
	root := newWorkspace(t, `
stage "lazy" {
  outputs = { out = "build/never.txt" }
  command = "true"
}
`, nil)
	rec, err := build(t, context.Background(), root, BuildOptions{})
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("build error = %v, want a *BuildError", err)
	}
	lazy := stageRun(t, rec, "lazy")
	if lazy.State != StateFailed {
		t.Errorf("lazy: state %s, want failed", lazy.State)
	}
	if !strings.Contains(lazy.Error, "did not write declared output out") {
		t.Errorf("lazy: error %q, want one naming the missing output", lazy.Error)
	}
}

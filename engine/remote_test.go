package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlbuild/mlb/cache"
	"github.com/mlbuild/mlb/cache/remote"
)

// warnings collects a session's warnings.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) add(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, msg)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

// remoteBuild builds the workspace at root with params overrides and a
// session on the file remote at dir.
func remoteBuild(t *testing.T, root, dir string, overrides []string, opts BuildOptions, ropts RemoteOptions) (*RunRecord, *RemoteSession, error) {
	t.Helper()
	g := load(t, root, ParamSources{Overrides: overrides})
	w, err := OpenWorkspace(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := remote.Open(context.Background(), "file://"+dir, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := NewRemoteSession(r, ropts)
	defer rs.Close()
	opts.Remote = rs
	opts.Env = os.Environ()
	rec, err := w.Build(context.Background(), g, opts)
	return rec, rs, err
}

// TestRemoteLazyKeys checks that a clone that leaves outputs in the remote
// computes every stage key from the recorded digests exactly as the
// workspace that built the files computed it from their bytes.
func TestRemoteLazyKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "remote")
	a := newWorkspace(t, countingPipeline, countingFiles)
	recA, _, err := remoteBuild(t, a, dir, nil, BuildOptions{}, RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}

	b := newWorkspace(t, countingPipeline, countingFiles)
	recB, rs, err := remoteBuild(t, b, dir, nil, BuildOptions{}, RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range recA.Stages {
		sb := stageRun(t, recB, s.Name)
		if sb.Key != s.Key {
			t.Errorf("stage %s: key %s in the clone, %s where it was built", s.Name, sb.Key, s.Key)
		}
		if sb.State != StateRestored {
			t.Errorf("stage %s: state %s in the clone, want restored", s.Name, sb.State)
		}
		if n := runs(t, b, s.Name); n != 0 {
			t.Errorf("stage %s ran %d times in the clone", s.Name, n)
		}
	}
	if recB.Hash != recA.Hash {
		t.Errorf("run hash %s in the clone, %s where it was built", recB.Hash, recA.Hash)
	}

	// Only the final stages' outputs are in the clone.
	for _, p := range []string{"build/report.txt", "build/side.txt"} {
		if got, want := readWorkspaceFile(t, b, p), readWorkspaceFile(t, a, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	for _, p := range []string{"build/clean.txt", "build/model"} {
		if _, err := os.Stat(filepath.Join(b, p)); !os.IsNotExist(err) {
			t.Errorf("%s exists in the clone: it should have stayed in the remote", p)
		}
	}
	if s := rs.Summary(); s.Hits != 4 || s.Misses != 0 || s.DownloadedBlobs != 2 {
		t.Errorf("summary: %d hits, %d misses, %d blobs downloaded; want 4, 0 and 2", s.Hits, s.Misses, s.DownloadedBlobs)
	}
}

// A stage feeding three others that all have to run: their inputs are in
// the remote, and the blob is missing there.
const fanOutPipeline = `
param "v" {
  default = 1
}

stage "up" {
  outputs = { data = "build/data.txt" }
  command = "echo run >> counts/up && seq 1 100 > ${outputs.data}"
}

stage "d1" {
  inputs  = { data = stage.up.outputs.data }
  outputs = { out = "build/d1.txt" }
  command = "echo run >> counts/d1 && head -n ${param.v} ${inputs.data} > ${outputs.out}"
}

stage "d2" {
  inputs  = { data = stage.up.outputs.data }
  outputs = { out = "build/d2.txt" }
  command = "echo run >> counts/d2 && tail -n ${param.v} ${inputs.data} > ${outputs.out}"
}

stage "d3" {
  inputs  = { data = stage.up.outputs.data }
  outputs = { out = "build/d3.txt" }
  command = "echo run >> counts/d3 && wc -l < ${inputs.data} > ${outputs.out} && echo ${param.v} >> ${outputs.out}"
}
`

// TestRemoteMaterializeOnce runs three stages in parallel that all need
// the output of a stage left in the remote whose blob turns out missing.
// That stage must run locally exactly once, with one warning, and the
// run record must list it as executed.
func TestRemoteMaterializeOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "remote")
	files := map[string]string{"counts/.keep": ""}
	a := newWorkspace(t, fanOutPipeline, files)
	if _, _, err := remoteBuild(t, a, dir, nil, BuildOptions{}, RemoteOptions{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(a, "build/data.txt"))
	if err != nil {
		t.Fatal(err)
	}
	h := cache.SumBytes(data).String()
	if err := os.Remove(filepath.Join(dir, "blobs", h[:2], h+".zst")); err != nil {
		t.Fatal(err)
	}

	b := newWorkspace(t, fanOutPipeline, files)
	var warned warnings
	rec, rs, err := remoteBuild(t, b, dir, []string{"v=2"}, BuildOptions{Jobs: 4}, RemoteOptions{Warn: warned.add})
	if err != nil {
		t.Fatal(err)
	}
	if n := runs(t, b, "up"); n != 1 {
		t.Errorf("up ran %d times, want 1", n)
	}
	for _, name := range []string{"d1", "d2", "d3"} {
		if n := runs(t, b, name); n != 1 {
			t.Errorf("%s ran %d times, want 1", name, n)
		}
	}
	if got := states(rec); got["up"] != StateExecuted {
		t.Errorf("up is %s in the run record, want executed", got["up"])
	}
	if got, want := readWorkspaceFile(t, b, "build/data.txt"), string(data); got != want {
		t.Errorf("build/data.txt differs from the original")
	}
	w := warned.all()
	if len(w) != 1 || !strings.Contains(w[0], "not found") || !strings.Contains(w[0], "stage up runs locally") {
		t.Errorf("warnings = %q, want one about up's missing blob", w)
	}
	if s := rs.Summary(); s.Hits != 0 || s.Misses != 4 {
		t.Errorf("summary: %d hits, %d misses; want 0 and 4", s.Hits, s.Misses)
	}

	// The local result went back to the remote: a third clone restores it.
	c := newWorkspace(t, fanOutPipeline, files)
	rec, _, err = remoteBuild(t, c, dir, []string{"v=2"}, BuildOptions{}, RemoteOptions{Download: DownloadAll})
	if err != nil {
		t.Fatal(err)
	}
	for name, state := range states(rec) {
		if state != StateRestored {
			t.Errorf("stage %s is %s in the third clone, want restored", name, state)
		}
	}
}

// TestRemoteCancel cancels a build while stages run: the build ends, and
// the remote holds no action result of a stage that did not finish.
func TestRemoteCancel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "remote")
	root := newWorkspace(t, `
stage "quick" {
  outputs = { out = "build/quick.txt" }
  command = "echo quick > ${outputs.out}"
}

stage "slow" {
  inputs  = { q = stage.quick.outputs.out }
  outputs = { out = "build/slow.txt" }
  command = "touch started && sleep 60 && echo slow > ${outputs.out}"
}
`, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := load(t, root, ParamSources{})
	w, err := OpenWorkspace(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := remote.Open(ctx, "file://"+dir, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := NewRemoteSession(r, RemoteOptions{})
	defer rs.Close()

	done := make(chan *RunRecord)
	go func() {
		rec, _ := w.Build(ctx, g, BuildOptions{Remote: rs, Env: os.Environ()})
		done <- rec
	}()
	waitForFile(t, filepath.Join(root, "started"))
	cancel()
	rec := <-done
	if got := states(rec); got["quick"] != StateExecuted || got["slow"] != StateFailed {
		t.Errorf("states after cancel = %v, want quick executed and slow failed", got)
	}
	slow := stageRun(t, rec, "slow")
	if _, err := r.GetAction(context.Background(), slow.Key); err == nil {
		t.Errorf("the remote has a result for the cancelled stage")
	}
}

// waitForFile polls for path, failing the test if it never appears. The
// limit guards against a hung test; no duration is asserted.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	for i := 0; i < 6000; i++ {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

// TestRemoteInterruptedUploadFails checks that a build whose uploads were
// cut short by a cancelled context reports it, rather than finishing as if
// the remote had the run.
func TestRemoteInterruptedUploadFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "remote")
	root := newWorkspace(t, repeatPipeline, map[string]string{"in.txt": "text\n"})
	rec, rs, err := remoteBuild(t, root, dir, nil, BuildOptions{}, RemoteOptions{})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	w := openForHistory(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = rs.finish(ctx, w, rec, true)
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "mlb push") {
		t.Errorf("finish with a cancelled context = %v, want an interrupted error that names mlb push", err)
	}
}

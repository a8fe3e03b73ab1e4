package engine

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlbuild/mlb/cache"
)

// buildWithParams builds the workspace at root with -p style overrides and
// the given stage environment, as one mlb build process would.
func buildWithParams(t *testing.T, root string, env []string, overrides ...string) *RunRecord {
	t.Helper()
	return buildKeyed(t, root, overrides, BuildOptions{Env: env})
}

// openForHistory opens the workspace at root for the commands that read
// run records, and closes it when the test ends.
func openForHistory(t *testing.T, root string) *Workspace {
	t.Helper()
	w, err := OpenWorkspace(root, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// storeFiles lists every file under dir of the store, relative to it.
func storeFiles(t *testing.T, store *cache.Store, dir string) []string {
	t.Helper()
	var files []string
	base := filepath.Join(store.Root(), dir)
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// fakeHash returns a 64-character run hash that starts with prefix.
func fakeHash(prefix string) string {
	return prefix + strings.Repeat("0", 64-len(prefix))
}

func TestFindRunPrefix(t *testing.T) {
	store, err := cache.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	hashes := []string{fakeHash("abcd12"), fakeHash("abcd34"), fakeHash("9f00"), fakeHash("9f00")}
	for i, h := range hashes {
		// The last two records share a hash, as two builds of the same
		// pipeline with the same inputs do, and count as one run.
		rec := &RunRecord{Hash: h, Started: start.Add(time.Duration(i) * time.Minute), Status: "succeeded"}
		if err := SaveRun(store, rec); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		prefix  string
		want    string // hash found, or "" for an error
		wantErr string
	}{
		{"abcd1", hashes[0], ""},
		{"ABCD34", hashes[1], ""},
		{hashes[1], hashes[1], ""},
		{"9f00", hashes[2], ""},
		{"abcd", "", `run prefix "abcd" is ambiguous: it matches 2 runs`},
		{"abc", "", `run hash prefix "abc" is too short`},
		{"ffff", "", `no run matches "ffff"`},
	}
	for _, tt := range tests {
		rec, err := FindRun(store, tt.prefix)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("FindRun(%q) error = %v, want one containing %q", tt.prefix, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("FindRun(%q): %v", tt.prefix, err)
			continue
		}
		if rec.Hash != tt.want {
			t.Errorf("FindRun(%q) = %s, want %s", tt.prefix, rec.Hash, tt.want)
		}
	}

	// Of two records with one hash, the newer one is returned.
	rec, err := FindRun(store, "9f00")
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(3 * time.Minute); !rec.Started.Equal(want) {
		t.Errorf("FindRun(9f00) returned the record started %s, want the newer one started %s", rec.Started, want)
	}
}

// randomPipeline has a stage that writes random bytes between two stages
// that copy their input. Each command appends to $COUNTS/NAME, a folder
// outside any scratch workspace, so a test can count executions in
// reproduce and verify too.
const randomPipeline = `
stage "seed" {
  inputs  = { text = "in.txt" }
  outputs = { copy = "out/copy.txt" }
  command = "echo run >> $COUNTS/seed && cp ${inputs.text} ${outputs.copy}"
}

stage "noise" {
  inputs  = { copy = stage.seed.outputs.copy }
  outputs = { rand = "out/rand.txt" }
  command = "echo run >> $COUNTS/noise && od -An -N8 /dev/urandom > ${outputs.rand}"
}

stage "after" {
  inputs  = { rand = stage.noise.outputs.rand }
  outputs = { copy = "out/after.txt" }
  command = "echo run >> $COUNTS/after && cp ${inputs.rand} ${outputs.copy}"
}
`

// newRandomWorkspace returns a workspace holding randomPipeline, and the
// stage environment that points $COUNTS at root/counts.
func newRandomWorkspace(t *testing.T) (string, []string) {
	t.Helper()
	root := newWorkspace(t, randomPipeline, map[string]string{"in.txt": "hello\n", "counts/.keep": ""})
	return root, append(os.Environ(), "COUNTS="+filepath.Join(root, "counts"))
}

func TestVerifyNamesNonDeterministicStage(t *testing.T) {
	root, env := newRandomWorkspace(t)
	rec := buildWithParams(t, root, env)
	w := openForHistory(t, root)
	randBefore := readWorkspaceFile(t, root, "out/rand.txt")
	blobsBefore := storeFiles(t, w.Store, "blobs")
	actionsBefore := storeFiles(t, w.Store, "actions")

	verdicts, err := w.Verify(context.Background(), rec, ReproduceOptions{Env: env})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got := map[string]StageVerdict{}
	for _, v := range verdicts {
		got[v.Stage] = v
	}
	if len(verdicts) != 3 {
		t.Fatalf("Verify returned %d verdicts, want 3: %+v", len(verdicts), verdicts)
	}

	// after copies noise's output: it verifies only because it runs on the
	// recorded rand.txt, not on the one its re-execution wrote.
	for _, name := range []string{"seed", "after"} {
		if got[name].Status != "deterministic" {
			t.Errorf("stage %s: %s, want deterministic (%+v)", name, got[name].Status, got[name])
		}
	}
	noise := got["noise"]
	if noise.Status != "non-deterministic" {
		t.Errorf("stage noise: %s, want non-deterministic", noise.Status)
	}
	if len(noise.Differing) != 1 || noise.Differing[0].Path != "out/rand.txt" {
		t.Fatalf("stage noise differs in %+v, want out/rand.txt alone", noise.Differing)
	}
	if d := noise.Differing[0]; d.Recorded != stageRun(t, rec, "noise").Outputs[0].Digest || d.Got.IsZero() || d.Match() {
		t.Errorf("noise's check has recorded %s and got %s, want the run's digest and another one", d.Recorded, d.Got)
	}

	// Every stage ran a second time, in a scratch folder: the workspace and
	// the cache are as they were.
	for _, name := range []string{"seed", "noise", "after"} {
		if n := runs(t, root, name); n != 2 {
			t.Errorf("stage %s executed %d times, want 2", name, n)
		}
	}
	if got := readWorkspaceFile(t, root, "out/rand.txt"); got != randBefore {
		t.Errorf("verify changed the workspace's out/rand.txt from %q to %q", randBefore, got)
	}
	if got := storeFiles(t, w.Store, "blobs"); !slices.Equal(got, blobsBefore) {
		t.Errorf("verify changed the cache's blobs:\nbefore %v\nafter  %v", blobsBefore, got)
	}
	if got := storeFiles(t, w.Store, "actions"); !slices.Equal(got, actionsBefore) {
		t.Errorf("verify changed the cache's action results:\nbefore %v\nafter  %v", actionsBefore, got)
	}
}

func TestReproduceRunsOnlyUncachedStages(t *testing.T) {
	root, env := newRandomWorkspace(t)
	rec := buildWithParams(t, root, env)
	w := openForHistory(t, root)

	// Drop the action result of after, the one stage that can be run again
	// and give the recorded output.
	key := stageRun(t, rec, "after").Key.String()
	removed := 0
	for _, f := range storeFiles(t, w.Store, "actions") {
		if strings.Contains(f, key) {
			if err := os.Remove(filepath.Join(w.Store.Root(), "actions", f)); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	if removed != 1 {
		t.Fatalf("found %d action result files for key %s, want 1", removed, key)
	}
	writeFiles(t, root, map[string]string{"in.txt": "edited after the run\n"})

	res, err := w.Reproduce(context.Background(), rec, ReproduceOptions{Env: env})
	if err != nil {
		t.Fatalf("Reproduce: %v", err)
	}
	if !slices.Equal(res.Executed, []string{"after"}) {
		t.Errorf("Reproduce executed %v, want [after]", res.Executed)
	}
	for name, want := range map[string]int{"seed": 1, "noise": 1, "after": 2} {
		if n := runs(t, root, name); n != want {
			t.Errorf("stage %s executed %d times in all, want %d", name, n, want)
		}
	}
	if bad := res.Mismatches(); len(bad) != 0 {
		t.Errorf("Reproduce found mismatches %+v, want none", bad)
	}
	if len(res.Checks) != 3 {
		t.Errorf("Reproduce checked %d outputs, want 3", len(res.Checks))
	}

	// The outputs are the run's, and the edited source stays as the user
	// left it.
	if got := readWorkspaceFile(t, root, "out/copy.txt"); got != "hello\n" {
		t.Errorf("out/copy.txt = %q, want the run's %q", got, "hello\n")
	}
	if got := readWorkspaceFile(t, root, "in.txt"); got != "edited after the run\n" {
		t.Errorf("reproduce changed the source in.txt to %q", got)
	}
}

// folderPipeline writes a folder whose files depend on a param, and a stage
// that reads one file inside it.
const folderPipeline = `
param "word" {
  type    = string
  default = "one"
}

stage "make" {
  outputs = { dir = "out/dir" }
  command = "mkdir -p out/dir/sub && echo '${param.word}' > out/dir/sub/word && echo fixed > out/dir/fixed"
}

stage "read" {
  inputs  = { word = "out/dir/sub/word" }
  outputs = { copy = "out/copy.txt" }
  command = "cp ${inputs.word} ${outputs.copy}"
}
`

func TestGCKeepsWhatKeptRunsNeed(t *testing.T) {
	root := newWorkspace(t, folderPipeline, nil)
	runA := buildWithParams(t, root, nil, "word=one")
	runB := buildWithParams(t, root, nil, "word=two")
	runC := buildWithParams(t, root, nil, "word=three")
	w := openForHistory(t, root)
	wordBlob := func(word string) cache.Digest { return cache.SumBytes([]byte(word + "\n")) }
	outputs := func(rec *RunRecord) []cache.Output {
		var out []cache.Output
		for _, s := range rec.Stages {
			out = append(out, s.Outputs...)
		}
		return out
	}

	// A dry run counts and removes nothing.
	blobsBefore := storeFiles(t, w.Store, "blobs")
	dry, err := GC(w.Store, GCOptions{KeepLast: 1, DryRun: true})
	if err != nil {
		t.Fatalf("GC dry run: %v", err)
	}
	if len(dry.Dropped) != 2 || dry.Blobs == 0 || dry.BlobBytes <= 0 {
		t.Errorf("GC dry run would drop %d runs and %d blobs of %d bytes, want 2 runs and some bytes", len(dry.Dropped), dry.Blobs, dry.BlobBytes)
	}
	if got := storeFiles(t, w.Store, "blobs"); !slices.Equal(got, blobsBefore) {
		t.Errorf("GC dry run changed the blobs:\nbefore %v\nafter  %v", blobsBefore, got)
	}
	if runsLeft, _ := ListRuns(w.Store); len(runsLeft) != 3 {
		t.Errorf("GC dry run left %d run records, want 3", len(runsLeft))
	}

	// Keep the oldest run by name and the newest by count.
	res, err := GC(w.Store, GCOptions{KeepLast: 1, Keep: []string{runA.Hash[:8]}})
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	if want := []string{runC.Hash, runA.Hash}; !slices.Equal(res.Kept, want) {
		t.Errorf("GC kept %v, want %v", res.Kept, want)
	}
	if want := []string{runB.Hash}; !slices.Equal(res.Dropped, want) {
		t.Errorf("GC dropped %v, want %v", res.Dropped, want)
	}
	for _, rec := range []*RunRecord{runA, runC} {
		blobs, err := w.Store.OutputBlobs(outputs(rec))
		if err != nil {
			t.Fatalf("blobs of kept run %s: %v", rec.Hash[:12], err)
		}
		for _, d := range blobs {
			if !w.Store.HasBlob(d) {
				t.Errorf("GC deleted blob %s of kept run %s", d, rec.Hash[:12])
			}
		}
		if !w.Store.HasBlob(rec.Pipeline) {
			t.Errorf("GC deleted the pipeline source of kept run %s", rec.Hash[:12])
		}
	}
	if w.Store.HasBlob(wordBlob("two")) {
		t.Errorf("GC kept blob %s, the file only dropped run B wrote", wordBlob("two"))
	}
	for _, s := range runB.Stages {
		for _, o := range s.Outputs {
			if w.Store.HasBlob(o.Digest) {
				t.Errorf("GC kept %s of dropped run B (blob %s)", o.Path, o.Digest)
			}
		}
	}
	if _, err := FindRun(w.Store, runB.Hash); err == nil {
		t.Errorf("run B is still listed after GC dropped it")
	}

	// The kept old run can still be checked out.
	if _, err := w.Checkout(runA); err != nil {
		t.Fatalf("checkout of kept run A: %v", err)
	}
	if got := readWorkspaceFile(t, root, "out/dir/sub/word"); got != "one\n" {
		t.Errorf("out/dir/sub/word after checkout of run A = %q, want %q", got, "one\n")
	}
}

func TestGCRejectsBusyCache(t *testing.T) {
	root := newWorkspace(t, folderPipeline, nil)
	buildWithParams(t, root, nil)
	w := openForHistory(t, root)
	if err := w.Lock(); err != nil {
		t.Fatal(err)
	}
	if _, err := GC(w.Store, GCOptions{KeepLast: 1}); !errors.Is(err, cache.ErrBusy) {
		t.Errorf("GC while a build holds the cache: error %v, want %v", err, cache.ErrBusy)
	}
	if _, err := GC(w.Store, GCOptions{}); err == nil {
		t.Errorf("GC with no keep option succeeded, want an error")
	}
}

func TestCheckoutMissingBlobWritesNothing(t *testing.T) {
	root := newWorkspace(t, folderPipeline, nil)
	runA := buildWithParams(t, root, nil, "word=one")
	buildWithParams(t, root, nil, "word=two")
	w := openForHistory(t, root)

	// Remove the blob of a file inside run A's folder output.
	missing := cache.SumBytes([]byte("one\n"))
	if err := os.Remove(w.Store.BlobPath(missing)); err != nil {
		t.Fatal(err)
	}
	written, err := w.Checkout(runA)
	if err == nil {
		t.Fatalf("checkout with a missing blob succeeded and wrote %v", written)
	}
	if !strings.Contains(err.Error(), missing.String()) {
		t.Errorf("checkout error %q does not name the missing blob %s", err, missing)
	}
	if len(written) != 0 {
		t.Errorf("checkout wrote %v before it failed", written)
	}
	if got := readWorkspaceFile(t, root, "out/dir/sub/word"); got != "two\n" {
		t.Errorf("out/dir/sub/word = %q after a failed checkout, want run B's %q", got, "two\n")
	}
}

func TestLineageInsideFolder(t *testing.T) {
	root := newWorkspace(t, folderPipeline, nil)
	rec := buildWithParams(t, root, nil, "word=a<b")
	w := openForHistory(t, root)
	made := stageRun(t, rec, "make").Outputs[0]

	tests := []struct {
		target, path string
		digest       cache.Digest
	}{
		{filepath.Join(root, "out/dir/sub/word"), "out/dir/sub/word", cache.SumBytes([]byte("a<b\n"))},
		{filepath.Join(root, "out/dir"), "out/dir", made.Digest},
		{made.Digest.String()[:10], "out/dir", made.Digest},
	}
	for _, tt := range tests {
		l, err := w.FindLineage(tt.target)
		if err != nil {
			t.Errorf("FindLineage(%s): %v", tt.target, err)
			continue
		}
		if l.Run != rec.Hash {
			t.Errorf("FindLineage(%s) names run %s, want %s", tt.target, l.Run, rec.Hash)
		}
		if l.Root.Path != tt.path || l.Root.Digest != tt.digest {
			t.Errorf("FindLineage(%s) starts at %s %s, want %s %s", tt.target, l.Root.Path, l.Root.Digest, tt.path, tt.digest)
		}
		maker := l.Root
		if maker.Stage == "" && len(maker.Inputs) == 1 {
			maker = maker.Inputs[0]
		}
		if maker.Stage != "make" || maker.Path != "out/dir" {
			t.Errorf("FindLineage(%s) leads to stage %q at %s, want make at out/dir", tt.target, maker.Stage, maker.Path)
		}
		if got := maker.Params["word"]; got != "a<b" {
			t.Errorf("lineage shows param word = %q, want the value as written, a<b", got)
		}
	}

	// A sub-folder's digest is that of its own tree.
	l, err := w.FindLineage(filepath.Join(root, "out/dir/sub"))
	if err != nil {
		t.Fatalf("FindLineage(out/dir/sub): %v", err)
	}
	sub, err := w.inputState("out/dir/sub")
	if err != nil {
		t.Fatal(err)
	}
	if l.Root.Digest != sub.Digest {
		t.Errorf("lineage of out/dir/sub has digest %s, want its tree digest %s", l.Root.Digest, sub.Digest)
	}

	// Contents that no run produced are rejected.
	writeFiles(t, root, map[string]string{"out/dir/sub/word": "edited\n"})
	if _, err := w.FindLineage(filepath.Join(root, "out/dir/sub/word")); err == nil || !strings.Contains(err.Error(), "changed by hand") {
		t.Errorf("FindLineage of an edited file: error %v, want one saying it was changed by hand", err)
	}
	if _, err := w.FindLineage("abcde"); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("FindLineage(abcde): error %v, want one saying the prefix is too short", err)
	}
}

// Lineage of a source input reports a source input, not a file changed by
// hand.
func TestLineageOfSourceInput(t *testing.T) {
	root := newWorkspace(t, repeatPipeline, map[string]string{"in.txt": "text\n"})
	rec := buildWithParams(t, root, nil)
	w := openForHistory(t, root)
	_, err := w.FindLineage(filepath.Join(root, "in.txt"))
	if err == nil || !strings.Contains(err.Error(), "is a source input") || !strings.Contains(err.Error(), rec.Hash[:12]) {
		t.Errorf("FindLineage(in.txt) error = %v, want it to call in.txt a source input of run %s", err, rec.Hash[:12])
	}
}

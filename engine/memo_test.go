package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mlbuild/mlb/cache"
)

// TestMemoSkipsCollectedResult checks that after a garbage collection a
// result the workspace's memo holds is not used once the cache no longer
// files it, so the stage runs.
func TestMemoSkipsCollectedResult(t *testing.T) {
	root := newWorkspace(t, repeatPipeline, map[string]string{"in.txt": "text\n"})
	runOne := buildWithParams(t, root, nil, "word=one")
	buildWithParams(t, root, nil, "word=two")
	if _, err := os.Stat(filepath.Join(root, StateDir, memoFile)); err != nil {
		t.Fatalf("no memo after a build: %v", err)
	}
	if again := buildWithParams(t, root, nil, "word=two"); again.Stages[0].State != StateUpToDate {
		t.Fatalf("repeated build: stage is %s, want up to date", again.Stages[0].State)
	}

	w := openForHistory(t, root)
	if _, err := GC(w.Store, GCOptions{Keep: []string{runOne.Hash}}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if third := buildWithParams(t, root, nil, "word=two"); third.Stages[0].State != StateExecuted {
		t.Errorf("build after GC dropped its result: stage is %s, want executed %v", third.Stages[0].State, third.Stages[0].Reasons)
	}
}

// TestMemoSourcesAfterGC checks that a source blob collected by gc is
// stored again by the next build that reads it, although the memo of the
// build before records it as stored.
func TestMemoSourcesAfterGC(t *testing.T) {
	root := newWorkspace(t, repeatPipeline, map[string]string{"in.txt": "text\n"})
	first := buildWithParams(t, root, nil, "word=one")
	writeFiles(t, root, map[string]string{"in.txt": "other\n"})
	second := buildWithParams(t, root, nil, "word=one")
	source := second.Sources[0]

	w := openForHistory(t, root)
	if _, err := GC(w.Store, GCOptions{Keep: []string{first.Hash}}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if w.Store.HasBlob(source.Digest) {
		t.Fatalf("GC kept source blob %s of the dropped run", source.Digest)
	}
	buildWithParams(t, root, nil, "word=two")
	if !w.Store.HasBlob(source.Digest) {
		t.Errorf("source %s (blob %s) is not in the cache after a build that reads it", source.Path, source.Digest)
	}
}

// TestMemoEncoding checks that a memo reads back as written and that a
// damaged one reads as an error, not as a shorter memo.
func TestMemoEncoding(t *testing.T) {
	data := &memoData{
		Epoch: "e1",
		Results: []*cache.ActionResult{{
			Version: 1, Key: cache.ActionKey{1, 2}, Stage: "train",
			Outputs: []cache.Output{
				{Name: "model", Path: "out/model.pkl", Kind: cache.KindFile, Perm: 0o644, Size: 42, Digest: cache.Digest{3}},
				{Name: "plots", Path: "out/plots", Kind: cache.KindDir, Perm: 0o755, Size: 7, Digest: cache.Digest{4}},
			},
			Metrics: json.RawMessage(`{"auc":0.9}`), Log: cache.Digest{5}, ExitCode: 0,
			Duration: 1500 * time.Millisecond, Created: time.Unix(1700000000, 12345).UTC(),
		}, {Version: 1, Key: cache.ActionKey{9}, Stage: "empty"}},
		Sources: map[cache.Digest]int64{{7}: 100, {8}: 0},
	}
	raw := data.encode()
	got, err := decodeMemo(raw)
	if err != nil {
		t.Fatalf("decodeMemo: %v", err)
	}
	data.Results[1].Outputs = []cache.Output{} // no outputs read back as an empty list
	if got.Epoch != data.Epoch || !reflect.DeepEqual(got.Sources, data.Sources) || len(got.Results) != len(data.Results) {
		t.Fatalf("decoded memo = %+v, want %+v", got, data)
	}
	for i, r := range data.Results {
		if !reflect.DeepEqual(got.Results[i], r) {
			t.Errorf("result %d:\n got %+v\nwant %+v", i, got.Results[i], r)
		}
	}
	for _, n := range []int{0, 5, len(raw) / 2, len(raw) - 1} {
		if _, err := decodeMemo(raw[:n]); err == nil {
			t.Errorf("a memo cut to %d of %d bytes decoded", n, len(raw))
		}
	}
}

// TestMemoNewCache checks that the memo of one cache is not trusted in
// another: after the cache is emptied, a build runs the stage again and
// stores its source input, so the run can be pushed and reproduced.
func TestMemoNewCache(t *testing.T) {
	root := newWorkspace(t, repeatPipeline, map[string]string{"in.txt": "text\n"})
	first := buildWithParams(t, root, nil)
	if err := os.RemoveAll(filepath.Join(root, StateDir, "cache")); err != nil {
		t.Fatal(err)
	}
	again := buildWithParams(t, root, nil)
	if again.Stages[0].State != StateExecuted {
		t.Errorf("build with an emptied cache: stage is %s, want executed", again.Stages[0].State)
	}
	w := openForHistory(t, root)
	if !w.Store.HasBlob(first.Sources[0].Digest) {
		t.Errorf("source %s is not in the new cache", first.Sources[0].Path)
	}
	if !w.Store.HasAction(again.Stages[0].Key) {
		t.Errorf("the new cache has no result for the stage (state %s, reasons %v)", again.Stages[0].State, again.Stages[0].Reasons)
	}
}

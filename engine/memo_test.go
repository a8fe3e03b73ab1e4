package engine

import (
	"os"
	"path/filepath"
	"testing"
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
// build before says it was stored.
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

package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMemoSkipsCollectedResult checks that a result the workspace's memo
// holds is not used once the cache no longer files it, so the stage runs.
func TestMemoSkipsCollectedResult(t *testing.T) {
	root := newWorkspace(t, repeatPipeline, map[string]string{"in.txt": "text\n"})
	first := buildWithParams(t, root, nil)
	if _, err := os.Stat(filepath.Join(root, StateDir, memoFile)); err != nil {
		t.Fatalf("no memo after a build: %v", err)
	}
	if again := buildWithParams(t, root, nil); again.Stages[0].State != StateUpToDate {
		t.Fatalf("second build: stage is %s, want up to date", again.Stages[0].State)
	}

	w := openForHistory(t, root)
	key := first.Stages[0].Key.String()
	if err := os.Remove(filepath.Join(w.Store.Root(), "actions", key[:2], key)); err != nil {
		t.Fatal(err)
	}
	if third := buildWithParams(t, root, nil); third.Stages[0].State != StateExecuted {
		t.Errorf("build after the action result was removed: stage is %s, want executed", third.Stages[0].State)
	}
}

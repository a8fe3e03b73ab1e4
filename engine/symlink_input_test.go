package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlbuild/mlb/cache"
)

// symlinkPipeline reads the folder dd, whose files are symlinks the tests
// create, and counts its runs in counts/read.
const symlinkPipeline = `
stage "read" {
  inputs  = { data = "dd" }
  outputs = { out = "out.txt" }
  command = "echo run >> counts/read && cat ${inputs.data}/* > ${outputs.out} 2>/dev/null || true"
}
`

// symlink creates the symlink at the workspace-relative path link with
// the given target string.
func symlink(t *testing.T, root, target, link string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(link))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// buildStates builds root and returns the state of each stage.
func buildStates(t *testing.T, root string) map[string]string {
	t.Helper()
	rec, err := build(t, context.Background(), root, BuildOptions{})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return states(rec)
}

func TestSymlinkFileTargetChangeRuns(t *testing.T) {
	root := newWorkspace(t, symlinkPipeline, map[string]string{
		"v2.csv": "a,b\n1,2\n", "counts/.keep": "", "dd/plain.txt": "x\n",
	})
	symlink(t, root, "../v2.csv", "dd/in.csv")

	if got := buildStates(t, root)["read"]; got != StateExecuted {
		t.Fatalf("first build: read is %s, want %s", got, StateExecuted)
	}
	if got := buildStates(t, root)["read"]; got != StateUpToDate {
		t.Fatalf("unchanged build: read is %s, want %s", got, StateUpToDate)
	}
	writeFiles(t, root, map[string]string{"v2.csv": "a,b\n1,2\n3,4\n"})
	if got := buildStates(t, root)["read"]; got != StateExecuted {
		t.Fatalf("after editing the link target: read is %s, want %s", got, StateExecuted)
	}
	if got := readWorkspaceFile(t, root, "out.txt"); got != "a,b\n1,2\n3,4\nx\n" {
		t.Errorf("out.txt = %q, want the edited target followed by plain.txt", got)
	}
}

func TestSymlinkFolderTargetChangeRuns(t *testing.T) {
	root := newWorkspace(t, symlinkPipeline, map[string]string{
		"shared/deep/v.txt": "one\n", "counts/.keep": "",
	})
	symlink(t, root, "../shared", "dd/shared")

	if got := buildStates(t, root)["read"]; got != StateExecuted {
		t.Fatalf("first build: read is %s, want %s", got, StateExecuted)
	}
	writeFiles(t, root, map[string]string{"shared/deep/v.txt": "two, longer\n"})
	if got := buildStates(t, root)["read"]; got != StateExecuted {
		t.Fatalf("after editing a file in the linked folder: read is %s, want %s", got, StateExecuted)
	}
}

func TestSymlinkCycleAndDangling(t *testing.T) {
	root := newWorkspace(t, symlinkPipeline, map[string]string{
		"counts/.keep": "", "dd/plain.txt": "x\n", "ext1/a.txt": "a\n", "ext2/b.txt": "b\n",
	})
	// ext1 and ext2 link to each other, so following links never ends
	// unless each folder is followed once.
	symlink(t, root, "../ext1", "dd/ext")
	symlink(t, root, "../ext2", "ext1/next")
	symlink(t, root, "../ext1", "ext2/next")
	symlink(t, root, "../missing.csv", "dd/gone.csv")
	symlink(t, root, "loop", "dd/loop")

	if got := buildStates(t, root)["read"]; got != StateExecuted {
		t.Fatalf("first build: read is %s, want %s", got, StateExecuted)
	}
	if got := buildStates(t, root)["read"]; got != StateUpToDate {
		t.Fatalf("unchanged build: read is %s, want %s", got, StateUpToDate)
	}
	writeFiles(t, root, map[string]string{"ext2/b.txt": "b, edited\n"})
	if got := buildStates(t, root)["read"]; got != StateExecuted {
		t.Fatalf("after editing a file behind two links: read is %s, want %s", got, StateExecuted)
	}
	writeFiles(t, root, map[string]string{"missing.csv": "now here\n"})
	if got := buildStates(t, root)["read"]; got != StateExecuted {
		t.Fatalf("after creating the dangling link's target: read is %s, want %s", got, StateExecuted)
	}
}

func TestSymlinkInsideFolderKeepsTreeDigest(t *testing.T) {
	root := newWorkspace(t, symlinkPipeline, map[string]string{
		"dd/real.csv": "1\n", "counts/.keep": "",
	})
	symlink(t, root, "real.csv", "dd/alias.csv")
	w, err := OpenWorkspace(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	in, err := w.inputState("dd")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := cache.ScanTree(w.Abs("dd"), w.Index)
	if err != nil {
		t.Fatal(err)
	}
	if in.Digest != tree.Digest() {
		t.Errorf("digest of dd = %s, want its tree digest %s: a link inside the folder adds nothing", in.Digest, tree.Digest())
	}
}

func TestSymlinkedInputFolderChangeRuns(t *testing.T) {
	root := newWorkspace(t, symlinkPipeline, map[string]string{
		"real/v.txt": "one\n", "counts/.keep": "",
	})
	symlink(t, root, "real", "dd")

	if got := buildStates(t, root)["read"]; got != StateExecuted {
		t.Fatalf("first build: read is %s, want %s", got, StateExecuted)
	}
	if got := buildStates(t, root)["read"]; got != StateUpToDate {
		t.Fatalf("unchanged build: read is %s, want %s", got, StateUpToDate)
	}
	writeFiles(t, root, map[string]string{"real/v.txt": "two, longer\n"})
	if got := buildStates(t, root)["read"]; got != StateExecuted {
		t.Fatalf("after editing a file of the folder the input links to: read is %s, want %s", got, StateExecuted)
	}
	if got := readWorkspaceFile(t, root, "out.txt"); got != "two, longer\n" {
		t.Errorf("out.txt = %q, want the edited file", got)
	}

	// The folder the link leads to is stored as the run's source.
	writeFiles(t, root, map[string]string{"real/v.txt": "three\n"})
	rec, err := build(t, context.Background(), root, BuildOptions{})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if len(rec.Sources) != 1 || rec.Sources[0].Path != "dd" || rec.Sources[0].Kind != cache.KindDir {
		t.Errorf("run sources = %+v, want the folder dd", rec.Sources)
	}
}

package engine

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInGitRepo(t *testing.T) {
	t.Setenv("GIT_DIR", "")
	t.Setenv("GIT_WORK_TREE", "")
	root := t.TempDir()
	if inGitRepo(root) {
		t.Skipf("a folder above %s has a .git entry", root)
	}
	mk := func(path string, dir bool) {
		t.Helper()
		path = filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if dir {
			err = os.Mkdir(path, 0o755)
		} else {
			err = os.WriteFile(path, []byte("gitdir: ../main/.git/worktrees/wt\n"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mk("repo/.git", true)
	mk("repo/sub/deeper/x", false)
	mk("worktree/.git", false)
	mk("plain/sub/x", false)

	tests := []struct {
		dir  string
		want bool
	}{
		{"repo", true},
		{"repo/sub/deeper", true},
		{"worktree", true},
		{"plain", false},
		{"plain/sub", false},
	}
	for _, tt := range tests {
		if got := inGitRepo(filepath.Join(root, tt.dir)); got != tt.want {
			t.Errorf("inGitRepo(%s) = %v, want %v", tt.dir, got, tt.want)
		}
	}
	t.Setenv("GIT_DIR", filepath.Join(root, "repo/.git"))
	if !inGitRepo(filepath.Join(root, "plain")) {
		t.Error("inGitRepo ignores GIT_DIR")
	}
}

package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestLogFileName(t *testing.T) {
	tests := []struct{ stage, want string }{
		{"train", "train.log"},
		{"eval[bert-base]", "eval[bert-base].log"},
		{"eval[google/flan-t5]", "eval[google%2Fflan-t5].log"},
		{"eval[k/../../evil]", "eval[k%2F..%2F..%2Fevil].log"},
		{"eval[a b]", "eval[a%20b].log"},
		{".hidden", "%2Ehidden.log"},
	}
	for _, tt := range tests {
		got := logFileName(tt.stage)
		if got != tt.want {
			t.Errorf("logFileName(%q) = %q, want %q", tt.stage, got, tt.want)
		}
		if filepath.Base(got) != got {
			t.Errorf("logFileName(%q) = %q leaves the logs folder", tt.stage, got)
		}
	}
}

// A for_each key with a slash names a stage that builds, and its log
// stays in the logs folder.
func TestForEachKeyWithSlashBuilds(t *testing.T) {
	root := newWorkspace(t, `
stage "eval" {
  for_each = toset(["google/flan-t5", "bert"])
  outputs  = { o = "scores/${replace(each.key, "/", "__")}.txt" }
  command  = "echo ${each.key} > scores/${replace(each.key, "/", "__")}.txt"
}
`, nil)
	rec, err := build(t, context.Background(), root, BuildOptions{})
	if err != nil {
		t.Fatalf("build: %v (%+v)", err, rec)
	}
	if _, err := os.Stat(filepath.Join(root, StateDir, "logs", "eval[google%2Fflan-t5].log")); err != nil {
		t.Errorf("log of eval[google/flan-t5]: %v", err)
	}
}

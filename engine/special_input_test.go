package engine

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An input that is a device or a named pipe fails its stage at once with
// the reason, because hashing it would read for ever.
func TestSpecialFileInput(t *testing.T) {
	tests := []struct {
		name  string
		input string // absolute, or "fifo" for a named pipe in the workspace
		want  string
	}{
		{"character device", "/dev/urandom", "is a character device"},
		{"named pipe", "fifo", "is a named pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newWorkspace(t, `
stage "read" {
  inputs  = { src = "`+tt.input+`" }
  outputs = { o = "out.txt" }
  command = "echo read > out.txt"
}
`, nil)
			if tt.input == "fifo" {
				if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rec, err := build(t, ctx, root, BuildOptions{})
			if err == nil {
				t.Fatal("build succeeded, want the stage to fail")
			}
			if ctx.Err() != nil {
				t.Fatal("build hung on the input")
			}
			if len(rec.Stages) != 1 || !strings.Contains(rec.Stages[0].Error, tt.want) || !strings.Contains(rec.Stages[0].Error, "copy the data into a file") {
				t.Errorf("stage error = %q, want it to say the input %s and the fix", rec.Stages[0].Error, tt.want)
			}
		})
	}
}

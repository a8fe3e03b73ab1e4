package stages

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A group file names the running command's group, is empty once the
// command ended, and StopLeftovers kills a recorded group and removes
// every file, empty or not.
func TestGroupFileAndStopLeftovers(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(t.TempDir(), "pids")
	env := []string{"PIDS=" + pids, "PATH=" + os.Getenv("PATH")}
	g, err := CreateGroupFile(filepath.Join(dir, "worker-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.f.Close()

	// A finished command leaves the file blank.
	if _, err := Run(context.Background(), Command{Shell: "true", Env: env, Output: io.Discard, Group: g}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(g.f.Name()); err != nil || strings.TrimSpace(string(data)) != "" {
		t.Fatalf("group file after the command ended: %q, %v; want blank", data, err)
	}

	// A running command is recorded; StopLeftovers stops its group as it
	// would after mlb was killed.
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), Command{
			Shell: `sleep 100 & echo $! >> "$PIDS"; wait`, Env: env, Output: io.Discard, Group: g,
		})
		done <- err
	}()
	child := readPIDs(t, pids, 1)[0]
	empty := filepath.Join(dir, "worker-2")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if n := StopLeftovers(dir); n != 1 {
		t.Errorf("StopLeftovers = %d, want 1 group stopped", n)
	}
	if !waitGone(child) {
		_ = syscall.Kill(child, syscall.SIGKILL)
		t.Errorf("process %d of the recorded group still runs", child)
	}
	<-done
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("StopLeftovers left %d files in %s", len(entries), dir)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A build whose output pipe closes after the first line finishes, records
// its run and exits 0; a pipeline inside a stage still ends on SIGPIPE.
func TestBuildIntoClosedPipe(t *testing.T) {
	bin, ws := binaryWorkspace(t, `
stage "a" {
  outputs = { o = "a.txt" }
  command = "echo a > a.txt"
}
stage "b" {
  inputs  = { a = stage.a.outputs.o }
  outputs = { o = "b.txt" }
  command = "yes | head -3 > b.txt"
}
`)
	cmd := exec.Command("bash", "-c", `"$0" build | head -1; echo "mlb exited ${PIPESTATUS[0]}"`, bin)
	cmd.Dir = ws
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "mlb exited 0") {
		t.Errorf("output:\n%s\nwant mlb to exit 0", out)
	}
	runs, _ := os.ReadDir(filepath.Join(ws, ".mlb", "cache", "runs"))
	if len(runs) != 1 {
		t.Errorf("%d run records, want 1", len(runs))
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "b.txt")); string(b) != "y\ny\ny\n" {
		t.Errorf("b.txt = %q, want three lines of y", b)
	}
}

// binaryWorkspace builds mlb into a temporary folder, for tests that need
// a process of its own, and makes a workspace beside it with pipeline as
// its mlb.hcl. It returns the binary and the workspace.
func binaryWorkspace(t *testing.T, pipeline string) (bin, ws string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "mlb")
	buildMLB(t, bin, "")
	ws = filepath.Join(dir, "ws")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "mlb.hcl"), []byte(pipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	return bin, ws
}

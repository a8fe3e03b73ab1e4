package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// exampleDir is the hotel-bookings example, relative to this package.
const exampleDir = "../../examples/hotel-bookings"

// realData is the full hotel-bookings training set, present beside the
// repository on the project's machines.
const realData = "../../../shared/data/hotel-bookings/train.csv"

// mlbIn runs mlb in process with -C dir and returns stdout; a non-zero exit
// fails the test.
func mlbIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"-C", dir}, args...), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("mlb %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// copyExample copies the example's sources into a temp workspace.
func copyExample(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3: run make deps")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import pandas, sklearn").Run(); err != nil {
		t.Skip("/usr/bin/python3 lacks pandas or scikit-learn: run make deps")
	}
	dst := t.TempDir()
	for _, p := range []string{"mlb.hcl", "stages", "data", "conf"} {
		src := filepath.Join(exampleDir, p)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v\n%s", p, err, out)
		}
	}
	return dst
}

type runsJSON []struct {
	Hash     string             `json:"hash"`
	Executed int                `json:"executed"`
	Restored int                `json:"restored"`
	Metrics  map[string]float64 `json:"metrics"`
}

func latestRun(t *testing.T, dir string) runsJSON {
	t.Helper()
	var runs runsJSON
	if err := json.Unmarshal([]byte(mlbIn(t, dir, "runs", "--json")), &runs); err != nil {
		t.Fatalf("runs --json: %v", err)
	}
	if len(runs) == 0 {
		t.Fatal("runs --json lists no run")
	}
	return runs
}

// checkExample builds the example twice with the given params, then checks
// the metrics, that the second build ran nothing, and what status says
// after a change of n_estimators.
func checkExample(t *testing.T, dir string, minAUC float64, params ...string) {
	mlbIn(t, dir, append([]string{"build"}, params...)...)
	runs := latestRun(t, dir)
	if runs[0].Executed != 4 {
		t.Errorf("first build executed %d stages, want 4", runs[0].Executed)
	}
	auc, ok := runs[0].Metrics["auc"]
	if !ok {
		t.Fatalf("run %s has no auc metric: %v", runs[0].Hash, runs[0].Metrics)
	}
	if auc < minAUC || auc > 1 {
		t.Errorf("auc = %v, want between %v and 1", auc, minAUC)
	}
	for _, m := range []string{"tp", "fp", "tn", "fn"} {
		if _, ok := runs[0].Metrics[m]; !ok {
			t.Errorf("metric %s missing from %v", m, runs[0].Metrics)
		}
	}

	out := mlbIn(t, dir, append([]string{"build"}, params...)...)
	if !strings.Contains(out, "nothing changed since the last run") {
		t.Errorf("second build does not say that nothing changed:\n%s", out)
	}
	after := latestRun(t, dir)
	if len(after) != len(runs)+1 || after[0].Hash != runs[0].Hash {
		t.Errorf("after the second build: %d runs, newest %s; want %d, newest %s", len(after), after[0].Hash, len(runs)+1, runs[0].Hash)
	}
	if after[0].Executed != 0 || after[0].Restored != 0 {
		t.Errorf("second build executed %d and restored %d stages, want none", after[0].Executed, after[0].Restored)
	}
	table := mlbIn(t, dir, "runs")
	if !strings.Contains(table, " auc ") {
		t.Errorf("mlb runs shows no auc:\n%s", table)
	}

	status := mlbIn(t, dir, append([]string{"status", "-p", "n_estimators=50"}, params...)...)
	for _, want := range []string{"run        train", "run        evaluate", "param n_estimators changed: 200 -> 50"} {
		if !strings.Contains(status, want) {
			t.Errorf("status after -p n_estimators=50 lacks %q:\n%s", want, status)
		}
	}
	for _, stage := range []string{"validate", "featurize"} {
		if strings.Contains(status, "run        "+stage) {
			t.Errorf("status after -p n_estimators=50 would run %s:\n%s", stage, status)
		}
	}
}

func TestExampleSynthetic(t *testing.T) {
	dir := copyExample(t)
	checkExample(t, dir, 0.7)
}

func TestExampleRealData(t *testing.T) {
	data, err := filepath.Abs(realData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Skipf("real data not found at %s", data)
	}
	dir := copyExample(t)
	checkExample(t, dir, 0.85, "-p", "data.train="+data)
}

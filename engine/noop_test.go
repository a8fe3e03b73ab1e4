package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

const noopPipeline = `
param "scale" {
  type    = number
  default = 2
}

stage "prep" {
  inputs  = { raw = "data/raw.csv" }
  outputs = { clean = "out/clean.csv" }
  command = "cp ${inputs.raw} ${outputs.clean}"
}

stage "score" {
  inputs  = { clean = stage.prep.outputs.clean }
  outputs = { metrics = "out/metrics.json" }
  metrics = ["out/metrics.json"]
  command = "echo '{\"rows\": ${param.scale}}' > ${outputs.metrics}"
}
`

// buildKeyed builds the workspace at root with its graph loaded as mlb
// loads it, with the graph key the stamp needs.
func buildKeyed(t *testing.T, root string, params []string, opts BuildOptions) *RunRecord {
	t.Helper()
	g, p, diags := LoadGraph(root, ParamSources{Overrides: params})
	if g == nil || diags.HasErrors() {
		t.Fatalf("LoadGraph:\n%s", showDiags(p, diags))
	}
	w, err := OpenWorkspace(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	rec, err := w.Build(context.Background(), g, opts)
	if err != nil {
		t.Fatalf("build %v: %v", params, err)
	}
	return rec
}

// settledWorkspace builds pipeline twice, the second time after the files
// are older than the index's racy window, so that the second build leaves
// a no-op stamp.
func settledWorkspace(t *testing.T, pipeline string, files map[string]string) (string, *RunRecord) {
	t.Helper()
	root := newWorkspace(t, pipeline, files)
	buildKeyed(t, root, nil, BuildOptions{})
	time.Sleep(1100 * time.Millisecond)
	return root, buildKeyed(t, root, nil, BuildOptions{})
}

// A build after one that changed nothing finds every stage up to date from
// the stamp alone. When a file, the graph, the options or the cache
// changed, it takes the usual way and gets the usual result.
func TestNoopStamp(t *testing.T) {
	tests := []struct {
		name     string
		change   func(t *testing.T, root string)
		opts     BuildOptions
		params   []string
		quick    bool
		executed int
		restored int
	}{
		{name: "nothing changed", quick: true},
		{name: "source changed", change: func(t *testing.T, root string) {
			writeFiles(t, root, map[string]string{"data/raw.csv": "a,b\n3,4\n"})
		}, executed: 2},
		{name: "source touched", change: func(t *testing.T, root string) {
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(filepath.Join(root, "data/raw.csv"), later, later); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "output removed", change: func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, "out/metrics.json")); err != nil {
				t.Fatal(err)
			}
		}, restored: 1},
		{name: "param set", params: []string{"scale=3"}, executed: 1},
		{name: "target named", opts: BuildOptions{Targets: []string{"score"}}},
		{name: "forced", opts: BuildOptions{Force: true}, executed: 2},
		{name: "cache emptied by gc", change: func(t *testing.T, root string) {
			if err := os.WriteFile(filepath.Join(root, StateDir, "cache", "gc-epoch"), []byte("other\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root, settled := settledWorkspace(t, noopPipeline, map[string]string{"data/raw.csv": "a,b\n1,2\n"})
			if _, err := os.Stat(filepath.Join(root, StateDir, noopFile)); err != nil {
				t.Fatalf("no stamp after a build that changed nothing: %v", err)
			}
			if tt.change != nil {
				tt.change(t, root)
			}
			rec := buildKeyed(t, root, tt.params, tt.opts)
			if rec.quick != tt.quick {
				t.Errorf("build took the stamp: %v, want %v", rec.quick, tt.quick)
			}
			executed, restored, _, failed := rec.Counts()
			if executed != tt.executed || restored != tt.restored || failed != 0 {
				t.Errorf("executed %d, restored %d, failed %d; want %d, %d, 0", executed, restored, failed, tt.executed, tt.restored)
			}
			if !tt.quick {
				return
			}
			if rec.Hash != settled.Hash || rec.Repeats == "" {
				t.Errorf("record hash %s repeating %q, want hash %s and a repeat", rec.Hash, rec.Repeats, settled.Hash)
			}
			if !reflect.DeepEqual(rec.Metrics, settled.Metrics) || rec.Metrics["rows"] != 2 {
				t.Errorf("metrics %v, want %v", rec.Metrics, settled.Metrics)
			}
			runs, err := ListRuns(openForHistory(t, root).Store)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 3 || runs[0].Hash != settled.Hash || len(runs[0].Stages) != 2 || runs[0].Stages[1].Parts == nil {
				t.Errorf("the quick build's record does not read back as a repeat of run %s", settled.Hash)
			}
		})
	}
}

// Builds whose result the stamp cannot vouch for leave none.
func TestNoopStampNotWritten(t *testing.T) {
	tests := []struct {
		name     string
		pipeline string
	}{
		{"stage without cache", `
stage "always" {
  outputs = { o = "out/o.txt" }
  cache   = false
  command = "date > ${outputs.o}"
}
`},
		{"folder input", `
stage "list" {
  inputs  = { d = "data" }
  outputs = { o = "out/o.txt" }
  command = "ls ${inputs.d} > ${outputs.o}"
}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root, _ := settledWorkspace(t, tt.pipeline, map[string]string{"data/raw.csv": "a\n"})
			if _, err := os.Stat(filepath.Join(root, StateDir, noopFile)); err == nil {
				t.Error("a stamp was written")
			}
		})
	}
}

package engine

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const graphPipeline = `
stage "fetch" {
  outputs = { raw = "data/raw" }
  command = "true"
}

stage "clean" {
  inputs  = { raw = stage.fetch.outputs.raw }
  outputs = { clean = "build/clean.csv" }
  command = "true"
}

# An input path inside fetch's output folder, with no reference.
stage "features" {
  inputs  = { part = "data/raw/part1.csv" }
  outputs = { features = "build/features.csv" }
  command = "true"
}

stage "train" {
  inputs  = { clean = stage.clean.outputs.clean, features = stage.features.outputs.features }
  outputs = { model = "build/model.pkl" }
  command = "true"
}

stage "report" {
  depends_on = [stage.train]
  outputs    = { report = "reports/report.txt" }
  command    = "true"
}

stage "lint" {
  inputs  = { code = "src" }
  command = "true"
}

# An input folder that holds other stages' outputs.
stage "archive" {
  inputs  = { build = "build" }
  outputs = { tar = "archive.tar" }
  command = "true"
}

# A reference inside the command only.
stage "publish" {
  command = "cp ${stage.report.outputs.report} /dev/null"
}
`

func namesOf(stages []*Stage) []string {
	var names []string
	for _, s := range stages {
		names = append(names, s.Name)
	}
	return names
}

func TestGraphEdges(t *testing.T) {
	g := load(t, newWorkspace(t, graphPipeline, nil), ParamSources{})
	tests := []struct {
		stage string
		deps  []string
	}{
		{"fetch", nil},
		{"clean", []string{"fetch"}},
		{"features", []string{"fetch"}},
		{"train", []string{"clean", "features"}},
		{"report", []string{"train"}},
		{"lint", nil},
		{"archive", []string{"clean", "features", "train"}},
		{"publish", []string{"report"}},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			s := g.Stage(tt.stage)
			if s == nil {
				t.Fatalf("no stage %s", tt.stage)
			}
			if len(s.Deps) != 0 || len(tt.deps) != 0 {
				if !reflect.DeepEqual(s.Deps, tt.deps) {
					t.Errorf("deps = %v, want %v", s.Deps, tt.deps)
				}
			}
		})
	}

	// Declaration order, except where a stage must wait for another.
	want := []string{"fetch", "clean", "features", "train", "report", "lint", "archive", "publish"}
	if got := namesOf(g.Stages); !reflect.DeepEqual(got, want) {
		t.Errorf("stage order = %v, want %v", got, want)
	}
	dependents := g.Dependents()
	if got := dependents["fetch"]; !reflect.DeepEqual(got, []string{"clean", "features"}) {
		t.Errorf("dependents of fetch = %v, want [clean features]", got)
	}
}

func TestGraphOrderFollowsDeps(t *testing.T) {
	// Declared in reverse: the graph order must still put producers first.
	g := load(t, newWorkspace(t, `
stage "c" {
  inputs  = { b = stage.b.outputs.b }
  command = "true"
}
stage "b" {
  inputs  = { a = stage.a.outputs.a }
  outputs = { b = "b.txt" }
  command = "true"
}
stage "a" {
  outputs = { a = "a.txt" }
  command = "true"
}
`, nil), ParamSources{})
	if got, want := namesOf(g.Stages), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stage order = %v, want %v", got, want)
	}
}

func TestGraphSelect(t *testing.T) {
	g := load(t, newWorkspace(t, graphPipeline, nil), ParamSources{})
	tests := []struct {
		name    string
		targets []string
		want    []string
		wantErr string
	}{
		{"all", nil, []string{"fetch", "clean", "features", "train", "report", "lint", "archive", "publish"}, ""},
		{"root", []string{"fetch"}, []string{"fetch"}, ""},
		{"with deps", []string{"train"}, []string{"fetch", "clean", "features", "train"}, ""},
		{"depends_on", []string{"report"}, []string{"fetch", "clean", "features", "train", "report"}, ""},
		{"two targets", []string{"lint", "clean"}, []string{"fetch", "clean", "lint"}, ""},
		{"repeated", []string{"clean", "clean"}, []string{"fetch", "clean"}, ""},
		{"unknown", []string{"train", "deploy"}, nil, `no stage named "deploy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.Select(tt.targets)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Select error = %v, want one containing %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "fetch") {
					t.Errorf("Select error %q does not list the declared stages", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if names := namesOf(got); !reflect.DeepEqual(names, tt.want) {
				t.Errorf("Select(%v) = %v, want %v", tt.targets, names, tt.want)
			}
		})
	}
}

func TestGraphCycle(t *testing.T) {
	tests := []struct {
		name     string
		pipeline string
		stages   []string
	}{
		{"references", `
stage "a" {
  inputs  = { c = stage.c.outputs.c }
  outputs = { a = "a.txt" }
  command = "true"
}
stage "b" {
  inputs  = { a = stage.a.outputs.a }
  outputs = { b = "b.txt" }
  command = "true"
}
stage "c" {
  inputs  = { b = stage.b.outputs.b }
  outputs = { c = "c.txt" }
  command = "true"
}
stage "outside" {
  command = "true"
}
`, []string{"a", "b", "c"}},
		{"depends_on", `
stage "x" {
  depends_on = [stage.y]
  command    = "true"
}
stage "y" {
  depends_on = [stage.x]
  command    = "true"
}
`, []string{"x", "y"}},
		{"path inside output", `
stage "p" {
  inputs  = { q = "q/file" }
  outputs = { p = "p" }
  command = "true"
}
stage "q" {
  inputs  = { p = "p/file" }
  outputs = { q = "q" }
  command = "true"
}
`, []string{"p", "q"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, diags := Load(newWorkspace(t, tt.pipeline, nil))
			if diags.HasErrors() {
				t.Fatalf("Load:\n%s", showDiags(p, diags))
			}
			params, diags := p.ResolveParams(ParamSources{})
			if diags.HasErrors() {
				t.Fatalf("ResolveParams:\n%s", showDiags(p, diags))
			}
			g, diags := p.Resolve(params)
			if g != nil || len(diags) != 1 || diags[0].Severity != hcl.DiagError {
				t.Fatalf("Resolve = %v with diagnostics:\n%s\nwant one error and no graph", g, showDiags(p, diags))
			}
			d := diags[0]
			if !strings.HasPrefix(d.Summary, "Dependency cycle: ") {
				t.Errorf("summary = %q, want a dependency cycle", d.Summary)
			}
			cycle := strings.Split(strings.TrimPrefix(d.Summary, "Dependency cycle: "), " -> ")
			if cycle[0] != cycle[len(cycle)-1] {
				t.Errorf("cycle %v does not end where it starts", cycle)
			}
			listed := append([]string(nil), cycle[:len(cycle)-1]...)
			slices.Sort(listed)
			if !reflect.DeepEqual(listed, tt.stages) {
				t.Errorf("cycle lists %v, want the stages %v", listed, tt.stages)
			}
			for _, name := range tt.stages {
				if !strings.Contains(d.Detail, name) {
					t.Errorf("detail %q does not name stage %s", d.Detail, name)
				}
			}
		})
	}
}

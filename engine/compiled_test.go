package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// compiledPipeline uses every part of a stage that the cached graph keeps:
// object params, locals, for_each instances, argv and shell commands, env,
// workdir, timeout, cache = false, metrics and depends_on. It also has a
// cache block, which the cached graph keeps with its ranges.
const compiledPipeline = `
cache {
  remote = "file:///srv/mlb-cache"
}
param "model" {
  type    = object({ depth = number, name = string })
  default = { depth = 3, name = "tree" }
}
param "shards" {
  type    = map(string)
  default = { a = "x", b = "y" }
}
locals {
  out = "out"
}
stage "prep" {
  for_each = param.shards
  inputs   = { raw = "raw.txt" }
  outputs  = { part = "${local.out}/${each.key}.txt" }
  command  = "tr a ${each.value} < ${inputs.raw} > ${outputs.part}"
}
stage "train" {
  description = "fits the model"
  inputs      = { a = stage.prep["a"].outputs.part, b = stage.prep["b"].outputs.part }
  outputs     = { model = "out/model.txt", metrics = "out/metrics.json" }
  metrics     = ["out/metrics.json"]
  command     = ["sh", "-c", "cat a b > ../${outputs.model}; echo '{}' > ../${outputs.metrics}", param.model.name]
  env         = { DEPTH = param.model.depth }
  workdir     = "out"
  timeout     = "1m"
}
stage "report" {
  outputs    = { text = "out/report.txt" }
  command    = "date > ${outputs.text}"
  cache      = false
  depends_on = [stage.train]
}
`

// TestLoadGraphCached checks that a graph decoded from the cache equals
// the one resolved from source, and that each input of resolution, once
// changed, makes LoadGraph resolve again.
func TestLoadGraphCached(t *testing.T) {
	root := newWorkspace(t, compiledPipeline, map[string]string{
		"raw.txt":     "abc\n",
		"params.yaml": "model:\n  depth: 4\n",
	})
	t.Chdir(root)
	src := ParamSources{Files: []string{"params.yaml"}, Env: []string{"MLB_PARAM_shards={\"a\":\"p\",\"b\":\"q\"}", "HOME=/x"}}
	want := load(t, root, src)

	first, p, diags := LoadGraph(root, src)
	if diags.HasErrors() || first == nil {
		t.Fatalf("LoadGraph:\n%s", showDiags(p, diags))
	}
	if first.fromCache {
		t.Fatal("first LoadGraph did not parse the pipeline")
	}
	assertSameGraph(t, first, want)
	cached, _, diags := LoadGraph(root, src)
	if diags.HasErrors() || cached == nil {
		t.Fatalf("LoadGraph from the cache: %v", diags)
	}
	if !cached.fromCache {
		t.Fatal("second LoadGraph parsed the pipeline again instead of reading the cached graph")
	}
	assertSameGraph(t, cached, want)
	if got, err := cached.Select([]string{"prep"}); err != nil || len(got) != 2 {
		t.Errorf("Select(prep) on the cached graph = %d stages, %v; want both instances", len(got), err)
	}

	// Variables other than MLB_PARAM_ ones do not matter.
	other := src
	other.Env = []string{"MLB_PARAM_shards={\"a\":\"p\",\"b\":\"q\"}", "HOME=/elsewhere"}
	if g, _, _ := LoadGraph(root, other); !g.fromCache {
		t.Error("a change of HOME made LoadGraph resolve again")
	}

	changes := []struct {
		name   string
		change func(t *testing.T) ParamSources
	}{
		{"params file", func(t *testing.T) ParamSources {
			writeFiles(t, root, map[string]string{"params.yaml": "model:\n  depth: 5\n"})
			return src
		}},
		{"MLB_PARAM_ variable", func(t *testing.T) ParamSources {
			s := src
			s.Env = []string{"MLB_PARAM_shards={\"a\":\"p\",\"b\":\"r\"}"}
			return s
		}},
		{"-p value", func(t *testing.T) ParamSources {
			s := src
			s.Overrides = []string{"model.name=forest"}
			return s
		}},
		{"pipeline file", func(t *testing.T) ParamSources {
			data, err := os.ReadFile(filepath.Join(root, PipelineFile))
			if err != nil {
				t.Fatal(err)
			}
			writeFiles(t, root, map[string]string{PipelineFile: string(data) + "\n# edited\n"})
			return src
		}},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			s := c.change(t)
			g, p, diags := LoadGraph(root, s)
			if diags.HasErrors() {
				t.Fatalf("LoadGraph:\n%s", showDiags(p, diags))
			}
			if g.fromCache {
				t.Fatal("LoadGraph returned the cached graph after the change")
			}
			assertSameGraph(t, g, load(t, root, s))
		})
	}
}

// TestLoadGraphBadCache checks that a damaged cache file is ignored.
func TestLoadGraphBadCache(t *testing.T) {
	root := newWorkspace(t, compiledPipeline, map[string]string{"raw.txt": "abc\n"})
	t.Chdir(root)
	if _, p, diags := LoadGraph(root, ParamSources{}); diags.HasErrors() {
		t.Fatalf("LoadGraph:\n%s", showDiags(p, diags))
	}
	path := filepath.Join(root, StateDir, compiledFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no cached graph after a load: %v", err)
	}
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	g, _, diags := LoadGraph(root, ParamSources{})
	if diags.HasErrors() || g.fromCache {
		t.Fatalf("LoadGraph with a truncated cache: from the cache %v, %v", g.fromCache, diags)
	}
	assertSameGraph(t, g, load(t, root, ParamSources{}))
}

// assertSameGraph compares what builds use of two graphs: params, stage
// order and every stage's fields, keys included.
func assertSameGraph(t *testing.T, got, want *Graph) {
	t.Helper()
	if string(got.Params.JSON()) != string(want.Params.JSON()) {
		t.Errorf("params = %s, want %s", got.Params.JSON(), want.Params.JSON())
	}
	if len(got.Stages) != len(want.Stages) {
		t.Fatalf("%d stages, want %d", len(got.Stages), len(want.Stages))
	}
	for i, w := range want.Stages {
		g := got.Stages[i]
		if g.Name != w.Name {
			t.Errorf("stage %d is %s, want %s", i, g.Name, w.Name)
			continue
		}
		if g.Block.Name != w.Block.Name || g.Block.DeclRange != w.Block.DeclRange {
			t.Errorf("stage %s: block %s at %v, want %s at %v", w.Name, g.Block.Name, g.Block.DeclRange, w.Block.Name, w.Block.DeclRange)
		}
		gs, ws := *g, *w
		gs.Block, ws.Block = nil, nil
		// Fields that only resolution uses are not cached.
		gs.each, ws.each = cty.NilVal, cty.NilVal
		gs.eachKey, ws.eachKey = "", ""
		gs.outputsValue, ws.outputsValue = cty.NilVal, cty.NilVal
		if g.staticParts().Key() != w.staticParts().Key() {
			t.Errorf("stage %s: static key differs", w.Name)
		}
		normalize := func(s *Stage) {
			if len(s.Env) == 0 {
				s.Env = nil
			}
			if len(s.Params) == 0 {
				s.Params = nil
			}
		}
		normalize(&gs)
		normalize(&ws)
		if !reflect.DeepEqual(gs, ws) {
			t.Errorf("stage %s differs:\n got %+v\nwant %+v", w.Name, gs, ws)
		}
	}
	if got.Pipeline.Cache != nil || want.Pipeline.Cache != nil {
		if got.Pipeline.Cache == nil || want.Pipeline.Cache == nil || *got.Pipeline.Cache != *want.Pipeline.Cache {
			t.Errorf("cache block = %+v, want %+v", got.Pipeline.Cache, want.Pipeline.Cache)
		}
	}
}

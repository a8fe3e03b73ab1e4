package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlbuild/mlb/cache"
)

// benchKeyParts returns the key parts of a stage of the graph benchmark
// workload: a shell command and 13 file inputs.
func benchKeyParts() *KeyParts {
	p := &KeyParts{
		Command: []string{"sh", "-c", "head -q -c 16384 src/l5/s042/f0.txt src/l5/s042/f1.txt out/l4/s041.txt > out/l5/s042.txt"},
		Params:  map[string]string{},
		Outputs: map[string]string{"out": "out/l5/s042.txt"},
		Inputs:  map[string]Input{},
	}
	for k := range 10 {
		path := fmt.Sprintf("src/l5/s042/f%d.txt", k)
		p.Inputs[fmt.Sprintf("src%d", k)] = Input{Path: path, Kind: cache.KindFile, Perm: 0o644, Digest: cache.SumBytes([]byte(path))}
	}
	for k, i := range []int{41, 42, 43} {
		path := fmt.Sprintf("out/l4/s%03d.txt", i)
		p.Inputs[fmt.Sprintf("up%d", k)] = Input{Path: path, Kind: cache.KindFile, Perm: 0o644, Digest: cache.SumBytes([]byte(path))}
	}
	return p
}

// BenchmarkStageKey computes the key of a stage with 13 inputs.
func BenchmarkStageKey(b *testing.B) {
	p := benchKeyParts()
	for b.Loop() {
		p.Key()
	}
}

// benchPipeline returns an mlb.hcl of layers×width stages in the shape of
// the graph benchmark workload: each stage reads ten source files and the
// outputs of two or three stages of the layer before.
func benchPipeline(layers, width int) []byte {
	var b strings.Builder
	for layer := range layers {
		for i := range width {
			fmt.Fprintf(&b, "stage \"l%d_s%03d\" {\n  inputs = {\n", layer, i)
			var refs []string
			for k := range 10 {
				fmt.Fprintf(&b, "    src%d = \"src/l%d/s%03d/f%d.txt\"\n", k, layer, i, k)
				refs = append(refs, fmt.Sprintf("${inputs.src%d}", k))
			}
			if layer > 0 {
				up := []int{(i - 1 + width) % width, i}
				if i%3 != 0 {
					up = append(up, (i+1)%width)
				}
				for n, j := range up {
					fmt.Fprintf(&b, "    up%d = stage.l%d_s%03d.outputs.out\n", n, layer-1, j)
					refs = append(refs, fmt.Sprintf("${inputs.up%d}", n))
				}
			}
			fmt.Fprintf(&b, "  }\n  outputs = { out = \"out/l%d/s%03d.txt\" }\n", layer, i)
			fmt.Fprintf(&b, "  command = \"head -q -c 16384 %s > ${outputs.out}\"\n}\n\n", strings.Join(refs, " "))
		}
	}
	return []byte(b.String())
}

// BenchmarkLoadResolve parses and resolves a pipeline of 1,000 stages, as
// a command does when the workspace has no cached graph for it: in one
// piece, and split over the cores as LoadGraph parses it.
func BenchmarkLoadResolve(b *testing.B) {
	root := b.TempDir()
	src := benchPipeline(10, 100)
	for _, split := range []bool{false, true} {
		b.Run(fmt.Sprintf("split=%v", split), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				g, _, diags := resolveSource(root, src, ParamSources{}, split)
				if diags.HasErrors() {
					b.Fatal(diags)
				}
				if len(g.Stages) != 1000 {
					b.Fatalf("resolved %d stages, want 1000", len(g.Stages))
				}
			}
		})
	}
}

// BenchmarkLoadGraphCached loads the resolved graph of a pipeline of 1,000
// stages from the workspace's cache, as every command after the first
// does while nothing that resolution reads has changed.
func BenchmarkLoadGraphCached(b *testing.B) {
	root := b.TempDir()
	if err := os.WriteFile(filepath.Join(root, PipelineFile), benchPipeline(10, 100), 0o644); err != nil {
		b.Fatal(err)
	}
	if g, _, diags := LoadGraph(root, ParamSources{}); diags.HasErrors() || g.fromCache {
		b.Fatalf("first load: %v", diags)
	}
	for b.Loop() {
		g, _, diags := LoadGraph(root, ParamSources{})
		if diags.HasErrors() || !g.fromCache || len(g.Stages) != 1000 {
			b.Fatalf("cached load: from the cache %v, %d stages, %v", g.fromCache, len(g.Stages), diags)
		}
	}
}

//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// graphShape is the graph workload: layers of stages where each stage reads
// its own source files and two or three outputs of the layer before it.
type graphShape struct {
	layers  int // layers of stages
	width   int // stages per layer
	sources int // source files per stage
}

// headBytes is how much of each input a graph stage copies to its output.
const headBytes = 16384

func (g graphShape) stages() int { return g.layers * g.width }

func stageName(layer, i int) string { return fmt.Sprintf("l%d_s%03d", layer, i) }

func sourcePath(layer, i, k int) string {
	return fmt.Sprintf("src/l%d/s%03d/f%d.txt", layer, i, k)
}

func outputPath(layer, i int) string { return fmt.Sprintf("out/l%d/s%03d.txt", layer, i) }

// upstream returns the stages of layer-1 that stage i of a layer after the
// first reads: i-1 and i, and i+1 unless i is a multiple of 3, wrapping
// around the layer.
func (g graphShape) upstream(i int) []int {
	up := []int{(i - 1 + g.width) % g.width, i}
	if i%3 != 0 {
		up = append(up, (i+1)%g.width)
	}
	return up
}

// inputs returns the input paths of stage i of layer, sources first.
func (g graphShape) inputs(layer, i int) []string {
	var in []string
	for k := range g.sources {
		in = append(in, sourcePath(layer, i, k))
	}
	if layer > 0 {
		for _, j := range g.upstream(i) {
			in = append(in, outputPath(layer-1, j))
		}
	}
	return in
}

func (g graphShape) command(layer, i int) string {
	return fmt.Sprintf("head -q -c %d %s > %s", headBytes, strings.Join(g.inputs(layer, i), " "), outputPath(layer, i))
}

// dependants returns how many stages must run when a source file of stage i
// of the first layer changes, that stage included.
func (g graphShape) dependants(i int) int {
	dirty := map[int]bool{i: true}
	total := 1
	for layer := 1; layer < g.layers; layer++ {
		next := map[int]bool{}
		for j := range g.width {
			for _, u := range g.upstream(j) {
				if dirty[u] {
					next[j] = true
				}
			}
		}
		dirty = next
		total += len(dirty)
	}
	return total
}

// changedStage returns the first-layer stage whose sources have the number
// of dependants closest to want, and that number.
func (g graphShape) changedStage(want int) (int, int) {
	best, bestCount := 0, g.dependants(0)
	for i := 1; i < g.width; i++ {
		if n := g.dependants(i); abs(n-want) < abs(bestCount-want) {
			best, bestCount = i, n
		}
	}
	return best, bestCount
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// writeSources creates the source files under dir. Each holds a few
// hundred bytes that differ from file to file.
func (g graphShape) writeSources(dir string) error {
	for layer := range g.layers {
		for i := range g.width {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(sourcePath(layer, i, 0))), 0o755); err != nil {
				return err
			}
			for k := range g.sources {
				if err := os.WriteFile(filepath.Join(dir, sourcePath(layer, i, k)), sourceData(layer, i, k), 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// sourceData returns the generated contents of a source file: a few hundred
// bytes that differ from file to file.
func sourceData(layer, i, k int) []byte {
	line := fmt.Sprintf("layer %d stage %d source %d\n", layer, i, k)
	return []byte(strings.Repeat(line, 8+k))
}

// changedStages returns how many stages have an input whose contents differ
// when the source file at changed holds after instead of before, all
// other sources holding their generated contents. A stage with unchanged
// inputs is not run by a tool that compares contents, and because each
// stage keeps only the first headBytes of every input, a change can stop
// propagating before it reaches every dependant.
func (g graphShape) changedStages(changed string, before, after []byte) int {
	outputs := func(changedData []byte) map[string][]byte {
		files := map[string][]byte{}
		for layer := range g.layers {
			for i := range g.width {
				var out []byte
				for _, in := range g.inputs(layer, i) {
					data, ok := files[in]
					if !ok {
						data = g.sourceFor(in, changed, changedData)
					}
					out = append(out, data[:min(len(data), headBytes)]...)
				}
				files[outputPath(layer, i)] = out
			}
		}
		return files
	}
	a, b := outputs(before), outputs(after)
	n := 0
	for layer := range g.layers {
		for i := range g.width {
			for _, in := range g.inputs(layer, i) {
				da, ok := a[in]
				if !ok {
					da = g.sourceFor(in, changed, before)
				}
				db, ok := b[in]
				if !ok {
					db = g.sourceFor(in, changed, after)
				}
				if !bytes.Equal(da, db) {
					n++
					break
				}
			}
		}
	}
	return n
}

// sourceFor returns the contents of source file path: data when it is the
// changed file, else its generated contents.
func (g graphShape) sourceFor(path, changed string, data []byte) []byte {
	if path == changed {
		return data
	}
	var layer, i, k int
	if _, err := fmt.Sscanf(path, "src/l%d/s%d/f%d.txt", &layer, &i, &k); err != nil {
		panic("not a source path: " + path)
	}
	return sourceData(layer, i, k)
}

// makeOutputDirs creates the folder of each layer's outputs, which make
// needs and the other tools create themselves.
func (g graphShape) makeOutputDirs(dir string) error {
	for layer := range g.layers {
		if err := os.MkdirAll(filepath.Join(dir, "out", fmt.Sprintf("l%d", layer)), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// mlbFile returns the pipeline as mlb.hcl: one stage block per stage, its
// upstream outputs referenced as stage.NAME.outputs.out so that mlb derives
// the edges itself.
func (g graphShape) mlbFile() []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by mlbbench: the graph workload.\n")
	for layer := range g.layers {
		for i := range g.width {
			fmt.Fprintf(&b, "\nstage %q {\n  inputs = {\n", stageName(layer, i))
			var names []string
			for k := range g.sources {
				fmt.Fprintf(&b, "    src%d = %q\n", k, sourcePath(layer, i, k))
				names = append(names, fmt.Sprintf("src%d", k))
			}
			if layer > 0 {
				for n, j := range g.upstream(i) {
					fmt.Fprintf(&b, "    up%d = stage.%s.outputs.out\n", n, stageName(layer-1, j))
					names = append(names, fmt.Sprintf("up%d", n))
				}
			}
			b.WriteString("  }\n")
			fmt.Fprintf(&b, "  outputs = { out = %q }\n", outputPath(layer, i))
			var refs []string
			for _, n := range names {
				refs = append(refs, "${inputs."+n+"}")
			}
			fmt.Fprintf(&b, "  command = \"head -q -c %d %s > ${outputs.out}\"\n}\n", headBytes, strings.Join(refs, " "))
		}
	}
	return b.Bytes()
}

// makefile returns the pipeline for make -r: a phony all and one explicit
// rule per output.
func (g graphShape) makefile() []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by mlbbench: the graph workload.\n.PHONY: all\nall:")
	for layer := range g.layers {
		for i := range g.width {
			fmt.Fprintf(&b, " %s", outputPath(layer, i))
		}
	}
	b.WriteString("\n")
	for layer := range g.layers {
		for i := range g.width {
			fmt.Fprintf(&b, "\n%s: %s\n\t%s\n", outputPath(layer, i), strings.Join(g.inputs(layer, i), " "), g.command(layer, i))
		}
	}
	return b.Bytes()
}

// ninjaFile returns the pipeline as build.ninja: one rule, one build
// statement per output.
func (g graphShape) ninjaFile() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Generated by mlbbench: the graph workload.\nrule head\n  command = head -q -c %d $in > $out\n", headBytes)
	for layer := range g.layers {
		for i := range g.width {
			fmt.Fprintf(&b, "build %s: head %s\n", outputPath(layer, i), strings.Join(g.inputs(layer, i), " "))
		}
	}
	return b.Bytes()
}

// snakefile returns the pipeline as a Snakefile: one wildcard rule whose
// inputs come from a table, the usual way to write a generated graph.
func (g graphShape) snakefile() []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by mlbbench: the graph workload.\nINPUTS = {\n")
	for layer := range g.layers {
		for i := range g.width {
			var quoted []string
			for _, in := range g.inputs(layer, i) {
				quoted = append(quoted, fmt.Sprintf("%q", in))
			}
			fmt.Fprintf(&b, "    %q: [%s],\n", outputPath(layer, i), strings.Join(quoted, ", "))
		}
	}
	fmt.Fprintf(&b, `}

rule all:
    input: list(INPUTS)

rule head:
    output: "out/l{layer}/s{i}.txt"
    input: lambda wc: INPUTS["out/l" + wc.layer + "/s" + wc.i + ".txt"]
    wildcard_constraints:
        layer = "[0-9]+",
        i = "[0-9]+"
    shell: "head -q -c %d {input} > {output}"
`, headBytes)
	return b.Bytes()
}

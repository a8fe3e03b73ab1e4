package engine

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// largePipeline returns a pipeline of n chained stages, large enough for
// parseSplit, with extra text put after stage at, or after every stage
// when at is negative.
func largePipeline(n, at int, extra string) []byte {
	var b strings.Builder
	b.WriteString("param \"rows\" {\n  type    = number\n  default = 10\n}\n\nlocals {\n  tag = \"v1\"\n}\n\n")
	// With extra text everywhere, stages end in a comment, so that only
	// lines inside the extra text look like places to cut.
	closer := "}"
	if at < 0 {
		closer = "} # end of stage"
	}
	for i := range n {
		in := `"data/raw.csv"`
		if i > 0 {
			in = fmt.Sprintf("stage.s%03d.outputs.out", i-1)
		}
		fmt.Fprintf(&b, `# stage number %d of a long chain
stage "s%03d" {
  inputs  = { src = %s }
  outputs = { out = "out/s%03d.csv" }
  env     = { TAG = local.tag }
  command = "head -n ${param.rows} ${inputs.src} > ${outputs.out}"
%s
`, i, i, in, i, closer)
		if i == at || at < 0 {
			b.WriteString(strings.ReplaceAll(extra, "%d", fmt.Sprint(i)))
		}
	}
	return []byte(b.String())
}

// A large file parsed in pieces resolves to the same graph, ranges
// included, as one parsed whole, and text that only looks like a place to
// split leaves the file to the whole parse.
func TestParseSplitSameGraph(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		split bool // whether parseSplit may take the file
	}{
		{"plain", "", true},
		{"heredocs with split-like lines", "stage \"doc%d\" {\n  outputs = { o = \"out/doc%d.txt\" }\n  command = <<EOT\ncat <<X > out/doc.txt\n}\nstage x\nX\nEOT\n}\n", false},
		{"block comments with split-like lines", "/*\n}\nstage \"ghost\" {\n*/\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := 200
			if !tt.split {
				at = -1 // a trap at every place parseSplit could cut
			}
			src := largePipeline(400, at, tt.extra)
			if len(src) < parallelParseMin {
				t.Fatalf("pipeline of %d bytes is too small to split", len(src))
			}
			if _, ok := parseSplit(src); ok != tt.split {
				t.Errorf("parseSplit took the file: %v, want %v", ok, tt.split)
			}
			whole, _, diags := resolveSource(t.TempDir(), src, ParamSources{}, false)
			if whole == nil || len(diags) > 0 {
				t.Fatalf("whole parse: %v", diags)
			}
			pieces, _, diags := resolveSource(t.TempDir(), src, ParamSources{}, true)
			if pieces == nil || len(diags) > 0 {
				t.Fatalf("split parse: %v", diags)
			}
			a, err := compile(whole)
			if err != nil {
				t.Fatal(err)
			}
			b, err := compile(pieces)
			if err != nil {
				t.Fatal(err)
			}
			a.Key, b.Key = [32]byte{}, [32]byte{}
			if !bytes.Equal(a.encode(), b.encode()) {
				t.Error("the split parse resolved to another graph")
			}
		})
	}
}

// An error in a large file is reported as the whole parse reports it,
// with the stage it is in.
func TestParseSplitDiagnostics(t *testing.T) {
	src := largePipeline(400, 300, "stage \"broken\" {\n  command = \"x\"\n  outputs = { o = undefined_thing }\n}\n")
	root := t.TempDir()
	writeFiles(t, root, map[string]string{PipelineFile: string(src)})
	g, p, diags := LoadGraph(root, ParamSources{})
	if g != nil || !diags.HasErrors() {
		t.Fatalf("LoadGraph = %v, %v; want an error", g, diags)
	}
	text := showDiags(p, diags)
	if !strings.Contains(text, "undefined_thing") || !strings.Contains(text, `stage "broken"`) {
		t.Errorf("diagnostics lack the expression or its stage:\n%s", text)
	}
}

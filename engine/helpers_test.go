package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// writeFiles creates each file, by workspace-relative path, under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newWorkspace returns a fresh workspace folder holding pipeline as mlb.hcl
// and the other files given.
func newWorkspace(t *testing.T, pipeline string, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	writeFiles(t, root, map[string]string{PipelineFile: pipeline})
	return root
}

// showDiags renders diagnostics with their source, for failure messages.
func showDiags(p *Pipeline, diags hcl.Diagnostics) string {
	var files map[string]*hcl.File
	if p != nil {
		files = p.Parser.Files()
	}
	var b bytes.Buffer
	_ = hcl.NewDiagnosticTextWriter(&b, files, 100, false).WriteDiagnostics(diags)
	return b.String()
}

// load loads the pipeline at root and resolves its params from src and
// then its graph, failing the test on any error.
func load(t *testing.T, root string, src ParamSources) *Graph {
	t.Helper()
	p, diags := Load(root)
	if diags.HasErrors() {
		t.Fatalf("Load:\n%s", showDiags(p, diags))
	}
	params, diags := p.ResolveParams(src)
	if diags.HasErrors() {
		t.Fatalf("ResolveParams:\n%s", showDiags(p, diags))
	}
	g, diags := p.Resolve(params)
	if diags.HasErrors() {
		t.Fatalf("Resolve:\n%s", showDiags(p, diags))
	}
	return g
}

// jsonOf returns v as JSON, the form param values are compared in.
func jsonOf(t *testing.T, v cty.Value) string {
	t.Helper()
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/pflag"

	"github.com/mlbuild/mlb/engine"
)

// paramOptions are the flags that set param values.
type paramOptions struct {
	overrides   []string
	paramsFiles []string
}

func (o *paramOptions) addFlags(f *pflag.FlagSet) {
	f.StringArrayVarP(&o.overrides, "param", "p", nil, "set a param, as name=value or name.key=value (repeatable)")
	f.StringArrayVar(&o.paramsFiles, "params-file", nil, "read params from a YAML, JSON or HCL file (repeatable; later files win)")
}

// loaded is an opened workspace with its resolved graph.
type loaded struct {
	ws    *engine.Workspace
	graph *engine.Graph
}

// loadPipeline finds the workspace, opens its cache, and loads and resolves
// the pipeline with the given params. Warnings go to stderr; errors come
// back as a *diagError.
func loadPipeline(g *globalOptions, po *paramOptions) (*loaded, error) {
	root, err := engine.FindRoot(g.dir)
	if err != nil {
		return nil, err
	}
	src := engine.ParamSources{Env: os.Environ()}
	if po != nil {
		for _, o := range po.overrides {
			if name, _, ok := strings.Cut(o, "="); !ok || name == "" {
				return nil, &usageError{fmt.Errorf("invalid -p %q: give name=value, such as -p max_depth=15", o)}
			}
		}
		src.Files, src.Overrides = po.paramsFiles, po.overrides
	}
	graph, p, diags := engine.LoadGraph(root, src)
	if graph == nil || diags.HasErrors() {
		return nil, diagnostics(p, diags)
	}
	if len(diags) > 0 {
		writeDiagnostics(g.stderr, diags, p.Parser.Files())
	}
	ws, err := engine.OpenWorkspace(root, g.cacheDir)
	if err != nil {
		return nil, err
	}
	return &loaded{ws: ws, graph: graph}, nil
}

// diagnostics returns diags as a *diagError, with the files of p to quote
// from. A pipeline loaded from the compiled graph has no parser but keeps
// its source, which is enough to quote a line.
func diagnostics(p *engine.Pipeline, diags hcl.Diagnostics) error {
	files := map[string]*hcl.File{}
	switch {
	case p != nil && p.Parser != nil:
		files = p.Parser.Files()
	case p != nil && p.Source != nil:
		files[engine.PipelineFile] = &hcl.File{Bytes: p.Source}
	}
	return &diagError{diags: diags, files: files}
}

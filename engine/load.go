package engine

import (
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Pipeline is a parsed pipeline file: its declarations, not yet evaluated.
// Evaluation needs param values, which Resolve takes.
type Pipeline struct {
	Root   string // absolute path of the workspace
	Source []byte // contents of mlb.hcl
	Params []*Param
	Locals []*Local
	Stages []*StageBlock
	Cache  *CacheBlock // nil when absent

	// Parser holds every file parsed for this pipeline, params files
	// included, so diagnostics can quote their source.
	Parser *hclparse.Parser
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "param", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "stage", LabelNames: []string{"name"}},
		{Type: "cache"},
	},
}

// Load parses root/mlb.hcl. It reports every problem it finds at once. The
// pipeline is nil only when the file cannot be read. When the diagnostics
// hold errors, the pipeline is incomplete and only its Parser is of use, to
// print them.
func Load(root string) (*Pipeline, hcl.Diagnostics) {
	path := filepath.Join(root, PipelineFile)
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read pipeline file",
			Detail:   err.Error(),
		}}
	}
	return LoadSource(root, src)
}

// LoadSource parses src as the mlb.hcl of the workspace at root, as Load
// does; reproducing a run loads the pipeline source stored with it.
func LoadSource(root string, src []byte) (*Pipeline, hcl.Diagnostics) {
	return loadSource(root, src, false)
}

// loadSource is LoadSource, parsing a large file on several cores when
// split is set (see parseSplit). A split parse drops the navigation data
// that diagnostics quote, so a caller that gets diagnostics from it loads
// again without split before it shows them.
func loadSource(root string, src []byte, split bool) (*Pipeline, hcl.Diagnostics) {
	parser := hclparse.NewParser()

	// Ranges name the file relative to the workspace, so messages read the
	// same wherever the workspace lives.
	var file *hcl.File
	var diags hcl.Diagnostics
	if split {
		if file, _ = parseSplit(src); file != nil {
			parser.AddFile(PipelineFile, file)
		}
	}
	if file == nil {
		file, diags = parser.ParseHCL(src, PipelineFile)
	}
	p := &Pipeline{Root: root, Source: src, Parser: parser}
	if diags.HasErrors() {
		return p, diags
	}
	content, moreDiags := file.Body.Content(rootSchema)
	diags = append(diags, moreDiags...)

	seen := map[string]*hcl.Range{}
	for _, block := range content.Blocks {
		if block.Type == "param" || block.Type == "stage" {
			key := block.Type + " " + block.Labels[0]
			if prev, ok := seen[key]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate " + block.Type + " " + block.Labels[0],
					Detail:   "A " + block.Type + " named " + block.Labels[0] + " is already declared at " + position(*prev) + ". Rename or remove one of them.",
					Subject:  block.DefRange.Ptr(),
				})
				continue
			}
			seen[key] = block.DefRange.Ptr()
		}
		switch block.Type {
		case "param":
			param, d := decodeParam(block)
			diags = append(diags, d...)
			if param != nil {
				p.Params = append(p.Params, param)
			}
		case "locals":
			locals, d := decodeLocals(block)
			diags = append(diags, d...)
			p.Locals = append(p.Locals, locals...)
		case "stage":
			stage, d := decodeStage(block)
			diags = append(diags, d...)
			if stage != nil {
				p.Stages = append(p.Stages, stage)
			}
		case "cache":
			c, d := decodeCache(block)
			diags = append(diags, d...)
			p.Cache = c
		}
	}
	diags = append(diags, checkLocalNames(p.Locals)...)
	return p, diags
}

// Param returns the declared param named name, or nil.
func (p *Pipeline) Param(name string) *Param {
	for _, param := range p.Params {
		if param.Name == name {
			return param
		}
	}
	return nil
}

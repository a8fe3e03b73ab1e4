package engine

import (
	"github.com/hashicorp/hcl/v2"
)

// StageBlock is a declared stage block. Its expressions are evaluated by
// Resolve once param values are known.
type StageBlock struct {
	Name      string
	DeclRange hcl.Range

	// Each attribute is nil when the block does not set it.
	Inputs      *hcl.Attribute
	Outputs     *hcl.Attribute
	Command     *hcl.Attribute
	Env         *hcl.Attribute
	Metrics     *hcl.Attribute
	DependsOn   *hcl.Attribute
	Description *hcl.Attribute
	Workdir     *hcl.Attribute
	Cache       *hcl.Attribute
	Timeout     *hcl.Attribute
	ForEach     *hcl.Attribute
}

var stageSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "inputs"},
		{Name: "outputs"},
		{Name: "command", Required: true},
		{Name: "env"},
		{Name: "metrics"},
		{Name: "depends_on"},
		{Name: "description"},
		{Name: "workdir"},
		{Name: "cache"},
		{Name: "timeout"},
		{Name: "for_each"},
	},
}

func decodeStage(block *hcl.Block) (*StageBlock, hcl.Diagnostics) {
	s := &StageBlock{Name: block.Labels[0], DeclRange: block.DefRange}
	diags := checkName("stage", s.Name, block.LabelRanges[0])
	content, d := block.Body.Content(stageSchema)
	diags = append(diags, d...)
	a := content.Attributes
	s.Inputs, s.Outputs, s.Command = a["inputs"], a["outputs"], a["command"]
	s.Env, s.Metrics, s.DependsOn = a["env"], a["metrics"], a["depends_on"]
	s.Description, s.Workdir = a["description"], a["workdir"]
	s.Cache, s.Timeout, s.ForEach = a["cache"], a["timeout"], a["for_each"]
	return s, diags
}

// attributes returns the stage's set attributes in a fixed order.
func (s *StageBlock) attributes() []*hcl.Attribute {
	var out []*hcl.Attribute
	for _, a := range []*hcl.Attribute{s.Inputs, s.Outputs, s.Command, s.Env, s.Metrics, s.DependsOn, s.Description, s.Workdir, s.Cache, s.Timeout, s.ForEach} {
		if a != nil {
			out = append(out, a)
		}
	}
	return out
}

package engine

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Param is a declared param block.
type Param struct {
	Name        string
	Description string

	// Type is the declared type constraint, or cty.DynamicPseudoType when
	// the block declares none; then values keep the type of the default.
	Type cty.Type

	// Default is the default value, or cty.NilVal when the block has none.
	// Such a param must be given by a params file, the environment or -p.
	Default     cty.Value
	Validations []*Validation
	DeclRange   hcl.Range
}

// Validation is a condition a param's value must meet.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage string
	Range        hcl.Range
}

var paramSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

func decodeParam(block *hcl.Block) (*Param, hcl.Diagnostics) {
	p := &Param{Name: block.Labels[0], Type: cty.DynamicPseudoType, DeclRange: block.DefRange}
	diags := checkName("param", p.Name, block.LabelRanges[0])
	content, d := block.Body.Content(paramSchema)
	diags = append(diags, d...)

	if attr, ok := content.Attributes["type"]; ok {
		t, d := typeexpr.TypeConstraint(attr.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			p.Type = t
		}
	}
	if attr, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeString(attr, &p.Description)...)
	}
	if attr, ok := content.Attributes["default"]; ok {
		v, d := attr.Expr.Value(nil)
		if d.HasErrors() {
			for _, diag := range d {
				diag.Detail += " A param's default must be a constant: it cannot refer to other params, locals or stages."
			}
		}
		diags = append(diags, d...)
		if !d.HasErrors() {
			p.Default = v
		}
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(validationSchema)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		v := &Validation{Condition: vc.Attributes["condition"].Expr, Range: vb.DefRange}
		diags = append(diags, decodeString(vc.Attributes["error_message"], &v.ErrorMessage)...)
		p.Validations = append(p.Validations, v)
	}
	return p, diags
}

// decodeString evaluates a constant string attribute into dst.
func decodeString(attr *hcl.Attribute, dst *string) hcl.Diagnostics {
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	if v.Type() != cty.String || v.IsNull() {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + attr.Name,
			Detail:   attr.Name + " must be a constant string.",
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	*dst = v.AsString()
	return nil
}

// checkName rejects names that cannot be referenced as param.NAME or
// stage.NAME.
func checkName(kind, name string, rng hcl.Range) hcl.Diagnostics {
	if hclsyntax.ValidIdentifier(name) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + kind + " name",
		Detail:   "The " + kind + " name " + name + " is not a valid identifier. Use letters, digits, underscores and dashes, starting with a letter.",
		Subject:  rng.Ptr(),
	}}
}

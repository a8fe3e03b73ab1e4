package engine

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// Local is one attribute of a locals block: a named expression over params
// and other locals.
type Local struct {
	Name  string
	Expr  hcl.Expression
	Range hcl.Range
}

func decodeLocals(block *hcl.Block) ([]*Local, hcl.Diagnostics) {
	attrs, diags := block.Body.JustAttributes()
	var locals []*Local
	for name, attr := range attrs {
		locals = append(locals, &Local{Name: name, Expr: attr.Expr, Range: attr.NameRange})
	}

	// JustAttributes returns a map: restore source order, so that evaluation
	// and its diagnostics are the same on every run.
	sort.Slice(locals, func(i, j int) bool { return locals[i].Range.Start.Byte < locals[j].Range.Start.Byte })
	return locals, diags
}

func checkLocalNames(locals []*Local) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]*Local{}
	for _, l := range locals {
		if prev, ok := seen[l.Name]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate local " + l.Name,
				Detail:   "local." + l.Name + " is already defined at " + position(prev.Range) + ". Rename or remove one of them.",
				Subject:  l.Range.Ptr(),
			})
			continue
		}
		seen[l.Name] = l
	}
	return diags
}

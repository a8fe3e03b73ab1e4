package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// expandStage returns the stages a block declares: one, or with for_each
// one per key, named NAME[KEY], each with each.key and each.value set as in
// Terraform. for_each takes a map or object, whose keys and values become
// each.key and each.value, or a set or list of strings, where each.value
// equals each.key.
func expandStage(b *StageBlock, base map[string]cty.Value) ([]*Stage, hcl.Diagnostics) {
	newStage := func(name string) *Stage {
		return &Stage{Name: name, Block: b, Cache: true, Env: map[string]string{}}
	}
	if b.ForEach == nil {
		return []*Stage{newStage(b.Name)}, nil
	}
	v, diags := b.ForEach.Expr.Value(evalContext(base))
	if diags.HasErrors() {
		return nil, diags
	}
	bad := func(detail string) ([]*Stage, hcl.Diagnostics) {
		return nil, hcl.Diagnostics{attrDiag(b.ForEach, "Invalid for_each", detail)}
	}
	if v.IsNull() || !v.IsKnown() {
		return bad("for_each must be a map, an object, or a set or list of strings.")
	}
	items := map[string]cty.Value{}
	t := v.Type()
	switch {
	case t.IsMapType() || t.IsObjectType():
		for k, e := range v.AsValueMap() {
			items[k] = e
		}
	case t.IsSetType() || t.IsListType() || t.IsTupleType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			key, err := scalarString(e)
			if err != nil || e.Type() != cty.String {
				return bad(fmt.Sprintf("each element of a for_each list must be a string: %v.", err))
			}
			if _, dup := items[key]; dup {
				return bad(fmt.Sprintf("for_each lists %q twice; keys must be unique.", key))
			}
			items[key] = e
		}
	default:
		return bad("for_each must be a map, an object, or a set or list of strings, got " + t.FriendlyName() + ".")
	}
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var stages []*Stage
	for _, k := range keys {
		s := newStage(instanceName(b.Name, k))
		s.eachKey = k
		s.each = cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": items[k]})
		stages = append(stages, s)
	}
	return stages, nil
}

// maxListedInstances is how many instance names a diagnostic lists before
// it counts the rest, so that a mistake in a stage with hundreds of keys
// still prints as one short paragraph.
const maxListedInstances = 10

// instanceDiags gathers the diagnostics of the instances of one stage
// block, so that a mistake in the block is reported once, not once per
// for_each key.
type instanceDiags struct {
	block *StageBlock
	names []string          // instance names, in the order added
	diags []hcl.Diagnostics // diags[i] are those of instance names[i]
}

// add records the diagnostics of the instance named name.
func (c *instanceDiags) add(name string, diags hcl.Diagnostics) {
	c.names = append(c.names, name)
	c.diags = append(c.diags, diags)
}

// diagIdentity is the part of a diagnostic that makes two of them print
// alike, so that they count as one mistake.
type diagIdentity struct {
	severity        hcl.DiagnosticSeverity
	summary, detail string
	subject         hcl.Range
	context         hcl.Range
}

func identityOf(d *hcl.Diagnostic) diagIdentity {
	id := diagIdentity{severity: d.Severity, summary: d.Summary, detail: d.Detail}
	if d.Subject != nil {
		id.subject = *d.Subject
	}
	if d.Context != nil {
		id.context = *d.Context
	}
	return id
}

// merged returns the diagnostics of a block without for_each unchanged.
// For a block with for_each it returns each distinct diagnostic once, in
// the order first seen, with a sentence added to its detail that names the
// instances it occurs in, or counts them when it occurs in all of them.
func (c *instanceDiags) merged() hcl.Diagnostics {
	if c.block.ForEach == nil {
		var out hcl.Diagnostics
		for _, d := range c.diags {
			out = append(out, d...)
		}
		return out
	}

	type group struct {
		diag      *hcl.Diagnostic
		instances []string
	}
	var groups []*group
	byIdentity := map[diagIdentity]*group{}
	for i, diags := range c.diags {
		for _, d := range diags {
			id := identityOf(d)
			g := byIdentity[id]
			if g == nil {
				g = &group{diag: d}
				byIdentity[id] = g
				groups = append(groups, g)
			}
			if n := len(g.instances); n == 0 || g.instances[n-1] != c.names[i] {
				g.instances = append(g.instances, c.names[i])
			}
		}
	}

	out := make(hcl.Diagnostics, 0, len(groups))
	for _, g := range groups {
		d := *g.diag
		d.Detail = strings.TrimSpace(d.Detail + " " + c.instancesSentence(d.Severity, g.instances))
		if len(g.instances) > 1 {
			// The expression's variables, each.key and each.value among
			// them, hold the values of one instance only, so a renderer
			// that prints them would show that instance as the only one.
			d.Expression, d.EvalContext = nil, nil
		}
		out = append(out, &d)
	}
	return out
}

// instancesSentence returns the sentence that names or counts the block's
// instances that a diagnostic occurs in.
func (c *instanceDiags) instancesSentence(severity hcl.DiagnosticSeverity, instances []string) string {
	kind := "error"
	if severity == hcl.DiagWarning {
		kind = "warning"
	}
	total := len(c.names)
	switch {
	case len(instances) == total && total > 1:
		return fmt.Sprintf("This %s occurs in all %d for_each instances of stage %q.", kind, total, c.block.Name)
	case len(instances) == 1:
		return fmt.Sprintf("This %s occurs in for_each instance %s.", kind, instances[0])
	}
	listed := instances
	more := ""
	if len(listed) > maxListedInstances {
		listed = listed[:maxListedInstances]
		more = fmt.Sprintf(" and %d more", len(instances)-maxListedInstances)
	}
	return fmt.Sprintf("This %s occurs in %d of the %d for_each instances of stage %q: %s%s.",
		kind, len(instances), total, c.block.Name, strings.Join(listed, ", "), more)
}

// withEach returns a copy of vars with each set, when it is.
func withEach(vars map[string]cty.Value, each cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(vars)+1)
	for k, v := range vars {
		out[k] = v
	}
	if each != cty.NilVal {
		out["each"] = each
	}
	return out
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

package engine

import (
	"fmt"
	"sort"

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

package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// refs is the set of params, locals and stages that expressions refer to.
type refs struct {
	params map[string]bool // dotted param paths, e.g. "data.train"
	locals map[string]bool
	stages map[string]hcl.Range
}

func newRefs() *refs {
	return &refs{params: map[string]bool{}, locals: map[string]bool{}, stages: map[string]hcl.Range{}}
}

// collectRefs records the references of expr in r and reports references
// to roots outside allowed, and to params, locals or stages that are not
// declared.
func (p *Pipeline) collectRefs(expr hcl.Expression, allowed []string, r *refs) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		rng := tr.SourceRange()
		if !contains(allowed, root) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference to " + root,
				Detail:   fmt.Sprintf("This expression may refer only to %s.", joinRoots(allowed)),
				Subject:  &rng,
			})
			continue
		}
		switch root {
		case "param":
			path := staticPath(tr[1:])
			if len(path) == 0 {
				for _, param := range p.Params {
					r.params[param.Name] = true
				}
				continue
			}
			if p.Param(path[0]) == nil {
				detail := fmt.Sprintf("No param %q is declared. Declare it with a param block", path[0])
				if names := p.paramNames(); len(names) > 0 {
					detail += ", or use one of: " + strings.Join(names, ", ")
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared param " + path[0],
					Detail:   detail + ".",
					Subject:  &rng,
				})
				continue
			}
			r.params[strings.Join(path, ".")] = true
		case "local":
			path := staticPath(tr[1:])
			if len(path) == 0 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference to local", Detail: "Refer to one local value, as local.NAME.", Subject: &rng})
				continue
			}
			if p.local(path[0]) == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared local " + path[0],
					Detail:   fmt.Sprintf("No local value %q is defined. Define it in a locals block.", path[0]),
					Subject:  &rng,
				})
				continue
			}
			r.locals[path[0]] = true
		case "stage":
			path := staticPath(tr[1:])
			if len(path) == 0 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference to stage", Detail: "Refer to one stage, as stage.NAME.outputs.KEY.", Subject: &rng})
				continue
			}
			if p.stageBlock(path[0]) == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared stage " + path[0],
					Detail:   fmt.Sprintf("No stage %q is declared. Declared stages: %s.", path[0], strings.Join(p.stageNames(), ", ")),
					Subject:  &rng,
				})
				continue
			}
			ref := path[0]
			if p.stageBlock(path[0]).ForEach != nil {
				// stage.NAME is every instance; stage.NAME[KEY] is one.
				if len(path) > 1 && path[1] == "outputs" {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid reference to stage " + path[0],
						Detail:   "Stage " + path[0] + " has for_each, so name an instance, as stage." + path[0] + "[\"KEY\"].outputs.NAME.",
						Subject:  &rng,
					})
					continue
				}
				if len(path) > 1 {
					ref = instanceName(path[0], path[1])
				}
			} else if len(path) > 1 && path[1] != "outputs" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference to stage " + path[0],
					Detail:   "Only a stage's outputs can be referred to, as stage." + path[0] + ".outputs.KEY.",
					Subject:  &rng,
				})
				continue
			}
			if _, ok := r.stages[ref]; !ok {
				r.stages[ref] = rng
			}
		}
	}
	return diags
}

// staticPath returns the leading attribute and string-index steps of a
// relative traversal as names.
func staticPath(tr hcl.Traversal) []string {
	var path []string
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseAttr:
			path = append(path, s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type().FriendlyName() != "string" || !s.Key.IsKnown() {
				return path
			}
			path = append(path, s.Key.AsString())
		default:
			return path
		}
	}
	return path
}

func (p *Pipeline) local(name string) *Local {
	for _, l := range p.Locals {
		if l.Name == name {
			return l
		}
	}
	return nil
}

func (p *Pipeline) stageBlock(name string) *StageBlock {
	for _, s := range p.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (p *Pipeline) stageNames() []string {
	var names []string
	for _, s := range p.Stages {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func joinRoots(roots []string) string {
	var parts []string
	for _, r := range roots {
		parts = append(parts, r+".*")
	}
	return strings.Join(parts, ", ")
}

// instanceName names the instance of a for_each stage with the given key.
func instanceName(stage, key string) string {
	return stage + "[" + key + "]"
}

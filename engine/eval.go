package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Resolve evaluates every stage with the given params and returns the
// graph. It reports every problem it finds at once; the graph is nil when
// there is any error.
func (p *Pipeline) Resolve(params Params) (*Graph, hcl.Diagnostics) {
	locals, localParams, diags := p.evalLocals(params)
	if diags.HasErrors() {
		return nil, diags
	}
	base := map[string]cty.Value{"param": params.Object(), "local": locals}

	// Outputs first: they may use params and locals only, so every stage's
	// outputs are known before any stage's inputs refer to them.
	var stages []*Stage
	outputObjects := map[string]cty.Value{}
	stageRefs := map[string]*refs{}
	forEachRefs := map[string]*refs{}
	for _, b := range p.Stages {
		r := newRefs()
		stageRefs[b.Name] = r
		outputsRefsOK := true
		for _, attr := range b.attributes() {
			allowed := []string{"param", "local", "stage", "inputs", "outputs"}
			switch attr {
			case b.Outputs:
				allowed = []string{"param", "local"}
			case b.Inputs, b.DependsOn:
				allowed = []string{"param", "local", "stage"}
			case b.ForEach:
				allowed = []string{"param", "local"}
			}
			if b.ForEach != nil && attr != b.ForEach {
				allowed = append(allowed, "each")
			}
			target := r
			if attr == b.ForEach {
				// An instance depends on the params behind its own key
				// only; evalStage works out which.
				target = newRefs()
				forEachRefs[b.Name] = target
			}
			d := p.collectRefs(attr.Expr, allowed, target)
			diags = append(diags, d...)
			if (attr == b.Outputs || attr == b.ForEach) && d.HasErrors() {
				outputsRefsOK = false
			}
		}
		if !outputsRefsOK {
			continue
		}

		// One instance, or one per for_each key.
		instances, d := expandStage(b, base)
		diags = append(diags, d...)
		perKey := map[string]cty.Value{}
		outputsDiags := &instanceDiags{block: b}
		for _, s := range instances {
			// Outputs with a bad reference are not evaluated: that would
			// only report the same mistake a second time.
			s.outputsValue = cty.EmptyObjectVal
			if b.Outputs != nil {
				v, d := b.Outputs.Expr.Value(evalContext(withEach(base, s.each)))
				if !d.HasErrors() {
					var dd hcl.Diagnostics
					s.Outputs, dd = pathRefs(b.Outputs, v, true, p.Root)
					d = append(d, dd...)
					s.outputsValue = v
				}
				outputsDiags.add(s.Name, d)
			}
			obj := cty.ObjectVal(map[string]cty.Value{"outputs": s.outputsValue})
			if b.ForEach != nil {
				perKey[s.eachKey] = obj
			} else {
				outputObjects[b.Name] = obj
			}
			stages = append(stages, s)
		}
		if b.ForEach != nil {
			outputObjects[b.Name] = objectOrEmpty(perKey)
		}
		diags = append(diags, outputsDiags.merged()...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	base["stage"] = cty.ObjectVal(outputObjects)

	// Then everything else, stage by stage.
	instances := map[string][]string{}
	for _, s := range stages {
		instances[s.Block.Name] = append(instances[s.Block.Name], s.Name)
	}
	// The instances of a block are reported together, so that a mistake
	// they share is reported once.
	blockDiags := map[*StageBlock]*instanceDiags{}
	for _, s := range stages {
		c := blockDiags[s.Block]
		if c == nil {
			c = &instanceDiags{block: s.Block}
			blockDiags[s.Block] = c
		}
		c.add(s.Name, p.evalStage(s, base, stageRefs[s.Block.Name], forEachRefs[s.Block.Name], instances, localParams, params))
	}
	for _, b := range p.Stages {
		if c := blockDiags[b]; c != nil {
			diags = append(diags, c.merged()...)
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	diags = append(diags, checkPaths(stages)...)
	if diags.HasErrors() {
		return nil, diags
	}
	sorted, d := order(stages)
	if d.HasErrors() {
		return nil, d
	}
	g := &Graph{Pipeline: p, Params: params, Stages: sorted, byName: map[string]*Stage{}}
	for _, s := range sorted {
		g.byName[s.Name] = s
	}
	return g, diags
}

func evalContext(vars map[string]cty.Value) *hcl.EvalContext {
	return &hcl.EvalContext{Variables: vars, Functions: functions()}
}

// evalStage evaluates s's attributes other than outputs.
func (p *Pipeline) evalStage(s *Stage, base map[string]cty.Value, r, forEach *refs, instances map[string][]string, localParams map[string]map[string]bool, params Params) hcl.Diagnostics {
	b := s.Block
	var diags hcl.Diagnostics
	vars := withEach(base, s.each)
	ctx := evalContext(vars)

	// Inputs.
	inputs := cty.EmptyObjectVal
	if b.Inputs != nil {
		v, d := b.Inputs.Expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			return diags
		}
		inputs = v
		s.Inputs, d = pathRefs(b.Inputs, v, false, p.Root)
		diags = append(diags, d...)
	}
	outputs := s.outputsValue

	// Scalars that the command may depend on.
	if b.Workdir != nil {
		var wd string
		diags = append(diags, evalString(ctx, b.Workdir, &wd)...)
		if wd != "" {
			clean, err := workspacePath(wd, p.Root)
			if err != nil {
				diags = append(diags, pathDiag(b.Workdir, "Invalid workdir", err))
			}
			if clean != "." {
				s.Workdir = clean
			}
		}
	}
	if b.Description != nil {
		diags = append(diags, evalString(ctx, b.Description, &s.Description)...)
	}
	if b.Cache != nil {
		v, d := b.Cache.Expr.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if v.Type() != cty.Bool || v.IsNull() {
				diags = append(diags, attrDiag(b.Cache, "Invalid cache", "cache must be true or false."))
			} else {
				s.Cache = v.True()
			}
		}
	}
	if b.Timeout != nil {
		diags = append(diags, evalTimeout(ctx, b.Timeout, &s.Timeout)...)
	}

	// Metrics files are outputs too: the stage writes them, mlb stores them.
	// They may name an output, as metrics = outputs.scores.
	vars["inputs"], vars["outputs"] = inputs, outputs
	if b.Metrics != nil {
		v, d := b.Metrics.Expr.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			refs, d := pathRefs(b.Metrics, v, true, p.Root)
			diags = append(diags, d...)
			for _, m := range refs {
				s.Metrics = append(s.Metrics, m.Path)
				if !hasPath(s.Outputs, m.Path) {
					m.Name = "metrics" + strings.TrimPrefix(m.Name, "value")
					s.Outputs = append(s.Outputs, m)
				}
			}
			sortRefs(s.Outputs)
		}
	}

	// Inside the command and env, input and output paths are relative to
	// the workdir, which is where the command runs.
	vars["inputs"] = relativeTo(inputs, s.Workdir)
	vars["outputs"] = relativeTo(outputs, s.Workdir)
	if b.Env != nil {
		v, d := b.Env.Expr.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			diags = append(diags, decodeEnv(b.Env, v, s.Env)...)
		}
	}
	v, d := b.Command.Expr.Value(ctx)
	diags = append(diags, d...)
	if !d.HasErrors() {
		diags = append(diags, decodeCommand(b.Command, v, s)...)
	}

	// Dependencies: references, then depends_on. A reference to a stage
	// with for_each, without a key, means every instance.
	deps := map[string]bool{}
	addDep := func(name string, rng hcl.Range) {
		block := name
		if i := strings.IndexByte(name, '['); i > 0 {
			block = name[:i]
		}
		targets := []string{name}
		if name == block {
			targets = instances[block]
		}
		if len(targets) == 0 || (name != block && !contains(instances[block], name)) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Reference to undeclared stage instance " + name,
				Detail:   fmt.Sprintf("Stage %s has no instance %s. Its instances are: %s.", block, name, strings.Join(instances[block], ", ")),
				Subject:  &rng,
			})
			return
		}
		for _, t := range targets {
			if t == s.Name {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Stage " + s.Name + " refers to itself",
					Detail:   "A stage cannot use its own outputs as inputs. Use outputs.KEY inside the command instead.",
					Subject:  &rng,
				})
				continue
			}
			deps[t] = true
		}
	}
	for _, name := range sortedKeys(r.stages) {
		addDep(name, r.stages[name])
	}
	if b.DependsOn != nil {
		names, d := decodeDependsOn(p, b.DependsOn)
		diags = append(diags, d...)
		for _, n := range names {
			addDep(n, b.DependsOn.Expr.Range())
		}
	}
	for name := range deps {
		s.Deps = append(s.Deps, name)
	}
	sort.Strings(s.Deps)

	// Params: the ones referenced directly and through locals.
	s.Params = map[string]string{}
	addParam := func(path string) {
		parts := strings.Split(path, ".")
		if v, ok := valueAt(params[parts[0]], parts[1:]); ok {
			s.Params[path] = canonicalJSON(v)
		}
	}
	for path := range r.params {
		addParam(path)
	}
	for name := range r.locals {
		for path := range localParams[name] {
			addParam(path)
		}
	}
	if forEach != nil {
		// for_each = param.X gives instance KEY the value of param.X.KEY;
		// any other expression makes each instance use all it refers to.
		if tr, d := hcl.AbsTraversalForExpr(b.ForEach.Expr); !d.HasErrors() && tr.RootName() == "param" && len(staticPath(tr[1:])) == len(tr)-1 {
			addParam(strings.Join(append(staticPath(tr[1:]), s.eachKey), "."))
		} else {
			for path := range forEach.params {
				addParam(path)
			}
			for name := range forEach.locals {
				for path := range localParams[name] {
					addParam(path)
				}
			}
		}
	}
	return diags
}

// pathRefs turns an inputs, outputs or metrics value into named paths. The
// value may be a string, a list of strings, or an object or map whose values
// are strings or lists of strings. Output paths must stay inside the
// workspace; input paths may point anywhere.
func pathRefs(attr *hcl.Attribute, v cty.Value, output bool, root string) ([]PathRef, hcl.Diagnostics) {
	var refs []PathRef
	var diags hcl.Diagnostics
	add := func(name string, e cty.Value) {
		if e.IsNull() || !e.IsKnown() || e.Type() != cty.String {
			if cv, err := convert.Convert(e, cty.String); err == nil && !cv.IsNull() && e.Type().IsPrimitiveType() {
				e = cv
			} else {
				diags = append(diags, attrDiag(attr, "Invalid "+attr.Name, fmt.Sprintf("%s %q must be a path string, got %s.", attr.Name, name, e.Type().FriendlyName())))
				return
			}
		}
		var clean string
		var err error
		if output {
			clean, err = workspacePath(e.AsString(), root)
		} else {
			clean, err = inputPath(e.AsString(), root)
		}
		if err != nil {
			rng := itemRange(attr, name)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid path in " + attr.Name,
				Detail:   fmt.Sprintf("%s %q: %v.", attr.Name, name, err),
				Subject:  &rng,
			})
			return
		}
		refs = append(refs, PathRef{Name: name, Path: clean, Range: itemRange(attr, name)})
	}
	var walk func(prefix string, v cty.Value)
	walk = func(prefix string, v cty.Value) {
		t := v.Type()
		switch {
		case v.IsNull():
			return
		case t.IsObjectType() || t.IsMapType():
			for k, e := range v.AsValueMap() {
				walk(joinName(prefix, k), e)
			}
		case t.IsTupleType() || t.IsListType() || t.IsSetType():
			i := 0
			for it := v.ElementIterator(); it.Next(); i++ {
				_, e := it.Element()
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		default:
			add(prefix, v)
		}
	}
	if v.Type() == cty.String {
		walk("value", v)
	} else {
		walk("", v)
	}
	sortRefs(refs)
	return refs, diags
}

func joinName(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// relativeTo rewrites every workspace-relative path string in v to be
// relative to workdir. Paths outside the workspace are left alone.
func relativeTo(v cty.Value, workdir string) cty.Value {
	if workdir == "" {
		return v
	}
	out, _ := cty.Transform(v, func(_ cty.Path, e cty.Value) (cty.Value, error) {
		if e.Type() == cty.String && e.IsKnown() && !e.IsNull() {
			return cty.StringVal(relPath(workdir, e.AsString())), nil
		}
		return e, nil
	})
	return out
}

func decodeEnv(attr *hcl.Attribute, v cty.Value, env map[string]string) hcl.Diagnostics {
	if !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return hcl.Diagnostics{attrDiag(attr, "Invalid env", "env must be a map of variable names to strings, e.g. env = { SEED = \"42\" }.")}
	}
	var diags hcl.Diagnostics
	for k, e := range v.AsValueMap() {
		s, err := scalarString(e)
		if err != nil {
			diags = append(diags, attrDiag(attr, "Invalid env", fmt.Sprintf("env %s: %v.", k, err)))
			continue
		}
		env[k] = s
	}
	return diags
}

// decodeCommand sets s.Shell from a string, or s.Argv from a list whose
// elements are strings, numbers, bools or lists of them.
func decodeCommand(attr *hcl.Attribute, v cty.Value, s *Stage) hcl.Diagnostics {
	if v.Type() == cty.String && !v.IsNull() {
		s.Shell = v.AsString()
		if strings.TrimSpace(s.Shell) == "" {
			return hcl.Diagnostics{attrDiag(attr, "Empty command", "command must not be empty.")}
		}
		return nil
	}
	t := v.Type()
	if v.IsNull() || !(t.IsTupleType() || t.IsListType()) {
		return hcl.Diagnostics{attrDiag(attr, "Invalid command", "command must be a string, run under sh -c, or a list of arguments, run without a shell.")}
	}
	var flatten func(v cty.Value) error
	flatten = func(v cty.Value) error {
		t := v.Type()
		if t.IsTupleType() || t.IsListType() {
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if err := flatten(e); err != nil {
					return err
				}
			}
			return nil
		}
		str, err := scalarString(v)
		if err != nil {
			return err
		}
		s.Argv = append(s.Argv, str)
		return nil
	}
	if err := flatten(v); err != nil {
		return hcl.Diagnostics{attrDiag(attr, "Invalid command", fmt.Sprintf("command argument: %v.", err))}
	}
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return hcl.Diagnostics{attrDiag(attr, "Empty command", "command must name a program to run.")}
	}
	return nil
}

func scalarString(v cty.Value) (string, error) {
	if v.IsNull() || !v.IsKnown() {
		return "", fmt.Errorf("value is null")
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), nil
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), nil
	case cty.Bool:
		if v.True() {
			return "true", nil
		}
		return "false", nil
	}
	return "", fmt.Errorf("want a string, number or bool, got %s", v.Type().FriendlyName())
}

func decodeDependsOn(p *Pipeline, attr *hcl.Attribute) ([]string, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(attr.Expr)
	var names []string
	for _, e := range exprs {
		tr, d := hcl.AbsTraversalForExpr(e)
		if d.HasErrors() || tr.RootName() != "stage" || len(tr) < 2 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid depends_on entry",
				Detail:   "Each depends_on entry must name a stage, as stage.NAME.",
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		name := staticPath(tr[1:])
		if len(name) > 0 {
			names = append(names, name[0])
		}
	}
	return names, diags
}

func evalString(ctx *hcl.EvalContext, attr *hcl.Attribute, dst *string) hcl.Diagnostics {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	s, err := scalarString(v)
	if err != nil {
		return hcl.Diagnostics{attrDiag(attr, "Invalid "+attr.Name, fmt.Sprintf("%s: %v.", attr.Name, err))}
	}
	*dst = s
	return nil
}

// evalTimeout accepts a duration string ("90s", "2h") or a number of seconds.
func evalTimeout(ctx *hcl.EvalContext, attr *hcl.Attribute, dst *time.Duration) hcl.Diagnostics {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	bad := attrDiag(attr, "Invalid timeout", `timeout must be a duration such as "90s" or "2h", or a number of seconds.`)
	switch {
	case v.IsNull():
		return hcl.Diagnostics{bad}
	case v.Type() == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		*dst = time.Duration(f * float64(time.Second))
	case v.Type() == cty.String:
		d, err := time.ParseDuration(v.AsString())
		if err != nil {
			return hcl.Diagnostics{bad}
		}
		*dst = d
	default:
		return hcl.Diagnostics{bad}
	}
	if *dst <= 0 {
		return hcl.Diagnostics{bad}
	}
	return nil
}

func attrDiag(attr *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: attr.Expr.Range().Ptr()}
}

// evalLocals evaluates the locals in dependency order and returns them as
// one object, with the params each one uses, directly or through others.
func (p *Pipeline) evalLocals(params Params) (cty.Value, map[string]map[string]bool, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	localRefs := map[string]*refs{}
	for _, l := range p.Locals {
		r := newRefs()
		diags = append(diags, p.collectRefs(l.Expr, []string{"param", "local"}, r)...)
		localRefs[l.Name] = r
	}
	if diags.HasErrors() {
		return cty.NilVal, nil, diags
	}
	values := map[string]cty.Value{}
	usesParams := map[string]map[string]bool{}
	pending := append([]*Local(nil), p.Locals...)
	for len(pending) > 0 {
		var next []*Local
		for _, l := range pending {
			ready := true
			for dep := range localRefs[l.Name].locals {
				if _, ok := values[dep]; !ok {
					ready = false
				}
			}
			if !ready {
				next = append(next, l)
				continue
			}
			v, d := l.Expr.Value(evalContext(map[string]cty.Value{"param": params.Object(), "local": cty.ObjectVal(values)}))
			diags = append(diags, d...)
			if d.HasErrors() {
				v = cty.DynamicVal
			}
			values[l.Name] = v
			used := map[string]bool{}
			for path := range localRefs[l.Name].params {
				used[path] = true
			}
			for dep := range localRefs[l.Name].locals {
				for path := range usesParams[dep] {
					used[path] = true
				}
			}
			usesParams[l.Name] = used
		}
		if len(next) == len(pending) {
			var names []string
			for _, l := range next {
				names = append(names, l.Name)
			}
			return cty.NilVal, nil, append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cycle among locals: " + strings.Join(names, ", "),
				Detail:   "These local values refer to each other, so none can be computed first. Break the cycle.",
				Subject:  next[0].Range.Ptr(),
			})
		}
		pending = next
	}
	if len(values) == 0 {
		return cty.EmptyObjectVal, usesParams, diags
	}
	return cty.ObjectVal(values), usesParams, diags
}

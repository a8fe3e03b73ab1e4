package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// ParamSources lists where param values come from besides defaults, each
// overriding the ones before it.
type ParamSources struct {
	Files     []string // params files (YAML, JSON or HCL), later files win
	Env       []string // environment as NAME=value; MLB_PARAM_<name> sets a param
	Overrides []string // -p values, as name.path=value

	// Recorded holds the resolved params of a past run as JSON. Its values
	// replace the defaults, and the other sources apply on top.
	Recorded []byte
}

// Params holds resolved param values by name.
type Params map[string]cty.Value

// Object returns the params as one object value, the value of "param" in
// expressions.
func (p Params) Object() cty.Value {
	if len(p) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(p)
}

// JSON returns the params as canonical JSON: object keys sorted.
func (p Params) JSON() []byte {
	v := p.Object()
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		panic(fmt.Sprintf("marshal params: %v", err))
	}
	return b
}

// envParamPrefix starts environment variables that set params.
const envParamPrefix = "MLB_PARAM_"

// ResolveParams computes every param's value from its default and src, then
// converts it to the declared type and checks its validations.
func (p *Pipeline) ResolveParams(src ParamSources) (Params, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	values := map[string]cty.Value{}
	origin := map[string]string{}
	for _, param := range p.Params {
		if param.Default != cty.NilVal {
			values[param.Name] = param.Default
			origin[param.Name] = "its default"
		}
	}

	if len(src.Recorded) > 0 {
		t, err := ctyjson.ImpliedType(src.Recorded)
		if err != nil {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid recorded params", Detail: err.Error()}}
		}
		rv, err := ctyjson.Unmarshal(src.Recorded, t)
		if err != nil || !rv.Type().IsObjectType() {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid recorded params", Detail: fmt.Sprint(err)}}
		}
		for name, v := range rv.AsValueMap() {
			if p.Param(name) != nil {
				values[name] = v
				origin[name] = "the recorded run"
			}
		}
	}

	// Params files, deep-merged so a file may set one leaf of an object.
	for _, path := range src.Files {
		fileValues, d := p.readParamsFile(path)
		diags = append(diags, d...)
		for _, name := range sortedKeys(fileValues) {
			fv := fileValues[name]
			if p.Param(name) == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Value for undeclared param " + name,
					Detail:   "The pipeline declares no param " + name + ", so this value is ignored. Declare it with a param block to use it.",
					Subject:  fv.Range.Ptr(),
				})
				continue
			}
			values[name] = deepMerge(values[name], fv.Value)
			origin[name] = position(fv.Range)
		}
	}

	// The environment, then -p, each a string converted to the type found
	// at its path.
	type override struct{ text, where string }
	var overrides []override
	for _, kv := range src.Env {
		if name, val, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, envParamPrefix) {
			overrides = append(overrides, override{strings.TrimPrefix(name, envParamPrefix) + "=" + val, "environment variable " + name})
		}
	}
	for _, o := range src.Overrides {
		overrides = append(overrides, override{o, "-p " + o})
	}
	for _, o := range overrides {
		name, v, d := p.applyOverride(values, o.text, o.where)
		diags = append(diags, d...)
		if !d.HasErrors() {
			values[name] = v
			origin[name] = o.where
		}
	}

	// Types and validations.
	for _, param := range p.Params {
		v, ok := values[param.Name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for param " + param.Name,
				Detail:   "param " + param.Name + " has no default. Give it one, set it in a params file, or pass -p " + param.Name + "=VALUE.",
				Subject:  param.DeclRange.Ptr(),
			})
			continue
		}
		if param.Type != cty.DynamicPseudoType {
			cv, err := convert.Convert(v, param.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid value for param " + param.Name,
					Detail: fmt.Sprintf("The value from %s is %s, but param %s is declared as %s: %s. Pass a value of that type.",
						origin[param.Name], showValue(v), param.Name, param.Type.FriendlyName(), err),
					Subject: param.DeclRange.Ptr(),
				})
				continue
			}
			v = cv
		}
		values[param.Name] = v
	}
	if diags.HasErrors() {
		return nil, diags
	}
	params := Params(values)
	for _, param := range p.Params {
		diags = append(diags, param.validate(params, origin[param.Name])...)
	}
	return params, diags
}

func (param *Param) validate(params Params, origin string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"param": params.Object()}, Functions: functions()}
	for _, val := range param.Validations {
		ok, d := val.Condition.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if ok.Type() != cty.Bool || ok.IsNull() || !ok.IsKnown() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid validation condition",
				Detail:   "A validation condition must be true or false.",
				Subject:  val.Condition.Range().Ptr(),
			})
			continue
		}
		if ok.False() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for param " + param.Name,
				Detail:   fmt.Sprintf("%s (value %s from %s)", val.ErrorMessage, showValue(params[param.Name]), origin),
				Subject:  val.Condition.Range().Ptr(),
			})
		}
	}
	return diags
}

// applyOverride parses "name.path=value" and returns the param's new value.
// The text is converted to the type that the param's declared type, or else
// its current value, has at that path.
func (p *Pipeline) applyOverride(values map[string]cty.Value, text, where string) (string, cty.Value, hcl.Diagnostics) {
	lhs, raw, ok := strings.Cut(text, "=")
	path := strings.Split(lhs, ".")
	name := path[0]
	param := p.Param(name)
	fail := func(summary, detail string) (string, cty.Value, hcl.Diagnostics) {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
		if param != nil {
			d.Subject = param.DeclRange.Ptr()
		}
		return name, cty.NilVal, hcl.Diagnostics{d}
	}
	if !ok || lhs == "" {
		return fail("Invalid param override", fmt.Sprintf("%s is not of the form name=value or name.key=value.", where))
	}
	if param == nil {
		return fail("Unknown param "+name, fmt.Sprintf("%s sets a param the pipeline does not declare. Declared params: %s.", where, strings.Join(p.paramNames(), ", ")))
	}

	// Find the type the value must have.
	want, err := typeAt(param.Type, path[1:])
	if err != nil {
		return fail("Unknown attribute in param override", fmt.Sprintf("%s: param %s (declared at %s) %v. Set one of the declared attributes, or add the attribute to the param's type.",
			where, name, position(param.DeclRange), err))
	}
	if want == cty.DynamicPseudoType {
		if cur, ok := valueAt(values[name], path[1:]); ok && !cur.IsNull() {
			want = cur.Type()
		}
	}
	leaf, err := parseOverride(raw, want)
	if err != nil {
		return fail("Invalid value for param "+name, fmt.Sprintf("%s: %s must be %s, got %q (%v). Pass %s, e.g. -p %s=%s.",
			where, lhs, typeName(want), raw, err, typeName(want), lhs, exampleOf(want)))
	}
	return name, setAt(values[name], path[1:], leaf), nil
}

func (p *Pipeline) paramNames() []string {
	var names []string
	for _, param := range p.Params {
		names = append(names, param.Name)
	}
	sort.Strings(names)
	return names
}

// parseOverride converts command-line text to type want: numbers and bools
// by cty's string conversion, lists, maps and objects as JSON, and anything
// of unknown type as a string.
func parseOverride(raw string, want cty.Type) (cty.Value, error) {
	switch {
	case want == cty.DynamicPseudoType || want == cty.String:
		return cty.StringVal(raw), nil
	case want.IsPrimitiveType():
		return convert.Convert(cty.StringVal(raw), want)
	default:
		t, err := ctyjson.ImpliedType([]byte(raw))
		if err != nil {
			return cty.NilVal, fmt.Errorf("not JSON: %w", err)
		}
		v, err := ctyjson.Unmarshal([]byte(raw), t)
		if err != nil {
			return cty.NilVal, err
		}
		return convert.Convert(v, want)
	}
}

func typeName(t cty.Type) string {
	if t == cty.DynamicPseudoType {
		return "any value"
	}
	name := t.FriendlyName()
	if strings.HasPrefix(name, "a") || strings.HasPrefix(name, "o") {
		return "an " + name
	}
	return "a " + name
}

// typeAt returns the type found at path inside t, or DynamicPseudoType
// where t does not constrain it: through a map, any or an untyped param,
// keys may be new. It returns an error when a step names an attribute that
// an object type along the path does not declare, because converting to
// that type would silently drop the value.
func typeAt(t cty.Type, path []string) (cty.Type, error) {
	for i, step := range path {
		switch {
		case t.IsObjectType() && t.HasAttribute(step):
			t = t.AttributeType(step)
		case t.IsObjectType():
			at := "the object type"
			if i > 0 {
				at = "the object type at " + strings.Join(path[:i], ".")
			}
			declared := "none"
			if names := sortedKeys(t.AttributeTypes()); len(names) > 0 {
				declared = strings.Join(names, ", ")
			}
			return cty.NilType, fmt.Errorf("has no attribute %q in %s. Declared attributes: %s", step, at, declared)
		case t.IsMapType():
			t = t.ElementType()
		default:
			return cty.DynamicPseudoType, nil
		}
	}
	return t, nil
}

// valueAt returns the value at path inside v.
func valueAt(v cty.Value, path []string) (cty.Value, bool) {
	for _, step := range path {
		if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
			return cty.NilVal, false
		}
		t := v.Type()
		switch {
		case t.IsObjectType() && t.HasAttribute(step):
			v = v.GetAttr(step)
		case t.IsMapType() && v.HasIndex(cty.StringVal(step)).True():
			v = v.Index(cty.StringVal(step))
		default:
			return cty.NilVal, false
		}
	}
	return v, v != cty.NilVal
}

// setAt returns v with the value at path replaced by leaf, creating objects
// along the path where v has none.
func setAt(v cty.Value, path []string, leaf cty.Value) cty.Value {
	if len(path) == 0 {
		return leaf
	}
	attrs := map[string]cty.Value{}
	if v != cty.NilVal && !v.IsNull() && v.IsKnown() && (v.Type().IsObjectType() || v.Type().IsMapType()) {
		for k, e := range v.AsValueMap() {
			attrs[k] = e
		}
	}
	attrs[path[0]] = setAt(attrs[path[0]], path[1:], leaf)
	return cty.ObjectVal(attrs)
}

// deepMerge returns over laid on base: objects and maps merge key by key,
// anything else in over replaces base.
func deepMerge(base, over cty.Value) cty.Value {
	if base == cty.NilVal || base.IsNull() || !isMapLike(base) || !isMapLike(over) || over.IsNull() {
		return over
	}
	attrs := map[string]cty.Value{}
	for k, e := range base.AsValueMap() {
		attrs[k] = e
	}
	for k, e := range over.AsValueMap() {
		if prev, ok := attrs[k]; ok {
			e = deepMerge(prev, e)
		}
		attrs[k] = e
	}
	return cty.ObjectVal(attrs)
}

func isMapLike(v cty.Value) bool {
	return v.IsKnown() && (v.Type().IsObjectType() || v.Type().IsMapType())
}

// showValue formats v for a message, as JSON where it can.
func showValue(v cty.Value) string {
	if v == cty.NilVal {
		return "nothing"
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return v.GoString()
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// exampleOf returns a sample command-line value of type t.
func exampleOf(t cty.Type) string {
	switch {
	case t == cty.Number:
		return "10"
	case t == cty.Bool:
		return "true"
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		return "'[1,2]'"
	case t.IsMapType() || t.IsObjectType():
		return `'{"key":"value"}'`
	}
	return "text"
}

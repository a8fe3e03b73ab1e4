package engine

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"go.yaml.in/yaml/v3"
)

// paramFileValue is one top-level key of a params file.
type paramFileValue struct {
	Value cty.Value
	Range hcl.Range
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// readParamsFile reads a params file by its extension: .yaml or .yml,
// .json, or HCL for anything else. It returns each top-level key's value and
// where it was written. A Hydra config's "defaults" and "hydra" keys steer
// Hydra itself, not the pipeline, and are skipped.
func (p *Pipeline) readParamsFile(path string) (map[string]paramFileValue, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read params file",
			Detail:   fmt.Sprintf("%v. Check the --params-file path.", err),
		}}
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return readYAMLParams(path, src)
	case ".json":
		file, diags := p.Parser.ParseJSON(src, path)
		if diags.HasErrors() {
			return nil, diags
		}
		return attributeParams(file.Body)
	default:
		file, diags := p.Parser.ParseHCL(src, path)
		if diags.HasErrors() {
			return nil, diags
		}
		return attributeParams(file.Body)
	}
}

func attributeParams(body hcl.Body) (map[string]paramFileValue, hcl.Diagnostics) {
	attrs, diags := body.JustAttributes()
	out := map[string]paramFileValue{}
	for name, attr := range attrs {
		v, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			out[name] = paramFileValue{Value: v, Range: attr.Range}
		}
	}
	return out, diags
}

func readYAMLParams(path string, src []byte) (map[string]paramFileValue, hcl.Diagnostics) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid YAML in params file",
			Detail:   fmt.Sprintf("%v. Fix the YAML syntax.", err),
		}
		// The YAML library names the line in its message only.
		var line int
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			fmt.Sscan(m[1], &line)
		}
		pos := hcl.Pos{Line: max(line, 1), Column: 1}
		d.Subject = &hcl.Range{Filename: path, Start: pos, End: pos}
		return nil, hcl.Diagnostics{d}
	}
	out := map[string]paramFileValue{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid params file",
			Detail:   "The top level of a params file must be a mapping of param names to values.",
			Subject:  yamlRange(path, root).Ptr(),
		}}
	}
	var diags hcl.Diagnostics
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, node := root.Content[i], root.Content[i+1]
		if key.Value == "defaults" || key.Value == "hydra" {
			continue
		}
		v, err := yamlToCty(node)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value in params file",
				Detail:   fmt.Sprintf("%s: %v.", key.Value, err),
				Subject:  yamlRange(path, node).Ptr(),
			})
			continue
		}
		out[key.Value] = paramFileValue{Value: v, Range: yamlRange(path, key)}
	}
	return out, diags
}

func yamlRange(path string, n *yaml.Node) hcl.Range {
	pos := hcl.Pos{Line: n.Line, Column: n.Column}
	return hcl.Range{Filename: path, Start: pos, End: pos}
}

// yamlToCty converts a YAML node: mappings become objects, sequences
// tuples, and scalars numbers, bools, strings or null by their YAML tag.
func yamlToCty(n *yaml.Node) (cty.Value, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return yamlToCty(n.Alias)
	case yaml.MappingNode:
		attrs := map[string]cty.Value{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := yamlToCty(n.Content[i+1])
			if err != nil {
				return cty.NilVal, err
			}
			attrs[n.Content[i].Value] = v
		}
		return cty.ObjectVal(attrs), nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return cty.EmptyTupleVal, nil
		}
		var elems []cty.Value
		for _, c := range n.Content {
			v, err := yamlToCty(c)
			if err != nil {
				return cty.NilVal, err
			}
			elems = append(elems, v)
		}
		return cty.TupleVal(elems), nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return cty.NullVal(cty.DynamicPseudoType), nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return cty.NilVal, err
			}
			return cty.BoolVal(b), nil
		case "!!int", "!!float":
			f, _, err := big.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 0, 512, big.ToNearestEven)
			if err != nil {
				return cty.NilVal, fmt.Errorf("line %d: %q is not a number", n.Line, n.Value)
			}
			return cty.NumberVal(f), nil
		default:
			return cty.StringVal(n.Value), nil
		}
	}
	return cty.NilVal, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

package engine

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const typedOverridePipeline = `
param "obj" {
  type    = object({ a = number, b = string })
  default = { a = 1, b = "x" }
}

param "cfg" {
  type    = object({ opt = object({ depth = number }), extra = any })
  default = { opt = { depth = 2 }, extra = {} }
}

param "weights" {
  type    = map(number)
  default = { a = 1 }
}

param "free" {
  default = { a = "x" }
}

stage "s" {
  command = "true"
}
`

// resolveOverrides loads typedOverridePipeline and resolves its params
// with the given -p values.
func resolveOverrides(t *testing.T, overrides ...string) (*Pipeline, Params, hcl.Diagnostics) {
	t.Helper()
	root := newWorkspace(t, typedOverridePipeline, nil)
	p, diags := Load(root)
	if diags.HasErrors() {
		t.Fatalf("Load:\n%s", showDiags(p, diags))
	}
	params, diags := p.ResolveParams(ParamSources{Overrides: overrides})
	return p, params, diags
}

func TestOverrideUndeclaredAttribute(t *testing.T) {
	p, _, diags := resolveOverrides(t, "obj.c=5")
	checkDiag(t, p, diags, hcl.DiagError, []string{
		"Unknown attribute in param override", "-p obj.c=5", "param obj", `no attribute "c"`, "Declared attributes: a, b", "mlb.hcl:2:1",
	})
	decl := p.Param("obj").DeclRange
	for _, d := range diags {
		if d.Subject == nil {
			t.Errorf("diagnostic %q has no subject, want the declaration of obj", d.Summary)
			continue
		}
		if *d.Subject != decl {
			t.Errorf("diagnostic subject = %s, want the declaration of obj at %s", d.Subject, decl)
		}
	}
}

func TestOverrideUndeclaredNestedAttribute(t *testing.T) {
	p, _, diags := resolveOverrides(t, "cfg.opt.width=5")
	checkDiag(t, p, diags, hcl.DiagError, []string{
		"param cfg", `no attribute "width"`, "object type at opt", "Declared attributes: depth",
	})
}

func TestOverrideNewKeysAccepted(t *testing.T) {
	p, params, diags := resolveOverrides(t, "weights.b=2", "free.b=y", "cfg.extra.k=v", "cfg.opt.depth=4", "obj.a=3")
	if diags.HasErrors() {
		t.Fatalf("ResolveParams:\n%s", showDiags(p, diags))
	}
	want := map[string]string{
		"weights": `{"a":1,"b":2}`,
		"free":    `{"a":"x","b":"y"}`,
		"cfg":     `{"extra":{"k":"v"},"opt":{"depth":4}}`,
		"obj":     `{"a":3,"b":"x"}`,
	}
	for name, w := range want {
		if got := jsonOf(t, params[name]); got != w {
			t.Errorf("param %s = %s, want %s", name, got, w)
		}
	}
}

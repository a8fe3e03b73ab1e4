package engine

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const paramsPipeline = `
param "n_estimators" {
  type    = number
  default = 200
}

param "data" {
  default = { train = "data/train.csv", test = "data/test.csv" }
}

param "model" {
  type    = object({ max_depth = number, criterion = string })
  default = { max_depth = 10, criterion = "gini" }
}

param "tags" {
  type    = list(string)
  default = []
}

param "lr" {
  type    = number
  default = 0.1
  validation {
    condition     = param.lr > 0 && param.lr < 1
    error_message = "lr must be between 0 and 1."
  }
}

stage "train" {
  command = "true"
}
`

const hydraConfig = `defaults:
  - model: random_forest
  - override hydra/job_logging: disabled
  - _self_

hydra:
  run:
    dir: outputs/${now:%Y-%m-%d}

n_estimators: 50
model:
  max_depth: 5
data:
  train: data/hydra.csv
`

func TestResolveParams(t *testing.T) {
	defaults := map[string]string{
		"n_estimators": `200`,
		"data":         `{"test":"data/test.csv","train":"data/train.csv"}`,
		"model":        `{"criterion":"gini","max_depth":10}`,
		"tags":         `[]`,
		"lr":           `0.1`,
	}
	tests := []struct {
		name      string
		files     map[string]string // params files by name, passed in name order
		env       []string
		overrides []string
		want      map[string]string // param -> JSON; unlisted params keep their defaults
		wantErr   []string          // substrings of one error's summary and detail
		wantWarn  string            // summary of a warning
	}{
		{name: "defaults"},
		{
			name:  "yaml deep merge",
			files: map[string]string{"1.yaml": "n_estimators: 300\ndata:\n  train: data/big.csv\n"},
			want: map[string]string{
				"n_estimators": `300`,
				"data":         `{"test":"data/test.csv","train":"data/big.csv"}`,
			},
		},
		{
			name:  "hydra config as-is",
			files: map[string]string{"conf/config.yaml": hydraConfig},
			want: map[string]string{
				"n_estimators": `50`,
				"model":        `{"criterion":"gini","max_depth":5}`,
				"data":         `{"test":"data/test.csv","train":"data/hydra.csv"}`,
			},
		},
		{
			name:  "json",
			files: map[string]string{"p.json": `{"n_estimators": 400, "model": {"criterion": "entropy"}, "tags": ["a", "b"]}`},
			want: map[string]string{
				"n_estimators": `400`,
				"model":        `{"criterion":"entropy","max_depth":10}`,
				"tags":         `["a","b"]`,
			},
		},
		{
			name:  "hcl",
			files: map[string]string{"p.hcl": "n_estimators = 500\ndata = { train = \"x.csv\" }\nlr = 0.25\n"},
			want: map[string]string{
				"n_estimators": `500`,
				"data":         `{"test":"data/test.csv","train":"x.csv"}`,
				"lr":           `0.25`,
			},
		},
		{
			name:  "later file wins",
			files: map[string]string{"1.yaml": "n_estimators: 300\n", "2.json": `{"n_estimators": 400}`},
			want:  map[string]string{"n_estimators": `400`},
		},
		{
			name:  "env over file",
			files: map[string]string{"1.yaml": "n_estimators: 300\n"},
			env:   []string{"HOME=/root", "MLB_PARAM_n_estimators=600", "MLB_PARAM=ignored"},
			want:  map[string]string{"n_estimators": `600`},
		},
		{
			name:      "override over env",
			env:       []string{"MLB_PARAM_n_estimators=600"},
			overrides: []string{"n_estimators=700"},
			want:      map[string]string{"n_estimators": `700`},
		},
		{
			name:      "nested overrides",
			env:       []string{"MLB_PARAM_data.test=env.csv"},
			overrides: []string{"model.max_depth=20", "data.train=other.csv"},
			want: map[string]string{
				"model": `{"criterion":"gini","max_depth":20}`,
				"data":  `{"test":"env.csv","train":"other.csv"}`,
			},
		},
		{
			name:      "override adds a key",
			overrides: []string{"data.valid=v.csv"},
			want:      map[string]string{"data": `{"test":"data/test.csv","train":"data/train.csv","valid":"v.csv"}`},
		},
		{
			name:      "override list as JSON",
			overrides: []string{`tags=["x","y z"]`},
			want:      map[string]string{"tags": `["x","y z"]`},
		},
		{
			name:      "override value with equals sign",
			overrides: []string{"data.train=a=b.csv"},
			want:      map[string]string{"data": `{"test":"data/test.csv","train":"a=b.csv"}`},
		},
		{
			name:      "validation passes",
			overrides: []string{"lr=0.5"},
			want:      map[string]string{"lr": `0.5`},
		},
		{
			name:    "yaml type error",
			files:   map[string]string{"bad.yaml": "lr: 0.2\nn_estimators: many\n"},
			wantErr: []string{"Invalid value for param n_estimators", `"many"`, "bad.yaml:2", "number"},
		},
		{
			name:    "json type error",
			files:   map[string]string{"bad.json": "{\n  \"model\": {\"max_depth\": \"deep\"}\n}"},
			wantErr: []string{"Invalid value for param model", `"deep"`, "bad.json:2"},
		},
		{
			name:    "env type error",
			env:     []string{"MLB_PARAM_n_estimators=lots"},
			wantErr: []string{"Invalid value for param n_estimators", `"lots"`, "environment variable MLB_PARAM_n_estimators"},
		},
		{
			name:      "override type error",
			overrides: []string{"n_estimators=lots"},
			wantErr:   []string{"Invalid value for param n_estimators", `"lots"`, "-p n_estimators=lots"},
		},
		{
			name:      "nested override type error",
			overrides: []string{"model.max_depth=deep"},
			wantErr:   []string{"Invalid value for param model", "model.max_depth", `"deep"`, "-p model.max_depth=deep"},
		},
		{
			name:      "override list not JSON",
			overrides: []string{"tags=a,b"},
			wantErr:   []string{"Invalid value for param tags", `"a,b"`},
		},
		{
			name:      "override unknown param",
			overrides: []string{"depth=3"},
			wantErr:   []string{"Unknown param depth", "-p depth=3", "n_estimators"},
		},
		{
			name:      "override without value",
			overrides: []string{"n_estimators"},
			wantErr:   []string{"Invalid param override", "-p n_estimators"},
		},
		{
			name:      "validation fails",
			overrides: []string{"lr=2"},
			wantErr:   []string{"Invalid value for param lr", "lr must be between 0 and 1.", "2", "-p lr=2"},
		},
		{
			name:    "validation fails from file",
			files:   map[string]string{"p.yaml": "lr: -1\n"},
			wantErr: []string{"Invalid value for param lr", "lr must be between 0 and 1.", "-1", "p.yaml:1"},
		},
		{
			name:    "yaml not a mapping",
			files:   map[string]string{"list.yaml": "- a\n- b\n"},
			wantErr: []string{"Invalid params file", "mapping"},
		},
		{
			name:    "yaml syntax",
			files:   map[string]string{"broken.yaml": "a: [1, 2\n"},
			wantErr: []string{"Invalid YAML in params file", "yaml: line 1"},
		},
		{
			name:    "missing file",
			files:   map[string]string{"absent.yaml": ""},
			wantErr: []string{"Cannot read params file"},
		},
		{
			name:     "undeclared param in file",
			files:    map[string]string{"p.yaml": "n_estimators: 1\nseed: 3\n"},
			want:     map[string]string{"n_estimators": `1`},
			wantWarn: "Value for undeclared param seed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newWorkspace(t, paramsPipeline, nil)
			var files []string
			for _, name := range sortedKeys(tt.files) {
				if name != "absent.yaml" {
					writeFiles(t, root, map[string]string{name: tt.files[name]})
				}
				files = append(files, filepath.Join(root, name))
			}
			p, diags := Load(root)
			if diags.HasErrors() {
				t.Fatalf("Load:\n%s", showDiags(p, diags))
			}

			params, diags := p.ResolveParams(ParamSources{Files: files, Env: tt.env, Overrides: tt.overrides})
			if tt.wantErr != nil {
				checkDiag(t, p, diags, hcl.DiagError, tt.wantErr)
				return
			}
			if diags.HasErrors() {
				t.Fatalf("ResolveParams:\n%s", showDiags(p, diags))
			}
			if tt.wantWarn != "" {
				checkDiag(t, p, diags, hcl.DiagWarning, []string{tt.wantWarn})
			} else if len(diags) > 0 {
				t.Errorf("unexpected diagnostics:\n%s", showDiags(p, diags))
			}
			for name, def := range defaults {
				want, ok := tt.want[name]
				if !ok {
					want = def
				}
				v, ok := params[name]
				if !ok {
					t.Errorf("param %s has no value", name)
					continue
				}
				if got := jsonOf(t, v); got != want {
					t.Errorf("param %s = %s, want %s", name, got, want)
				}
			}
		})
	}
}

// checkDiag fails unless diags holds a diagnostic of the given severity
// whose summary and detail together contain every string in want.
func checkDiag(t *testing.T, p *Pipeline, diags hcl.Diagnostics, severity hcl.DiagnosticSeverity, want []string) {
	t.Helper()
	for _, d := range diags {
		if d.Severity != severity {
			continue
		}
		text := d.Summary + ": " + d.Detail
		ok := true
		for _, w := range want {
			if !strings.Contains(text, w) {
				ok = false
			}
		}
		if ok {
			return
		}
	}
	t.Errorf("no diagnostic contains all of %q; got:\n%s", want, showDiags(p, diags))
}

func TestResolveParamsNoValue(t *testing.T) {
	root := newWorkspace(t, `
param "dataset" {
  type = string
}
stage "a" {
  command = "echo ${param.dataset}"
}
`, nil)
	p, diags := Load(root)
	if diags.HasErrors() {
		t.Fatalf("Load:\n%s", showDiags(p, diags))
	}
	_, diags = p.ResolveParams(ParamSources{})
	checkDiag(t, p, diags, hcl.DiagError, []string{"No value for param dataset", "-p dataset=VALUE"})

	params, diags := p.ResolveParams(ParamSources{Overrides: []string{"dataset=iris"}})
	if diags.HasErrors() {
		t.Fatalf("ResolveParams with -p:\n%s", showDiags(p, diags))
	}
	if got := jsonOf(t, params["dataset"]); got != `"iris"` {
		t.Errorf("dataset = %s, want \"iris\"", got)
	}
}

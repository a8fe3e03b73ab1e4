package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestForEachDiagnosticsOnce checks that a mistake shared by the for_each
// instances of a stage is reported once, saying how many instances it
// affects, and that a mistake only some instances make names them.
func TestForEachDiagnosticsOnce(t *testing.T) {
	// Five keys; each.value is a string for "e" only.
	const depths = `
param "depths" {
  default = { a = 1, b = 2, c = 3, d = 4, e = "x" }
}
`
	type wantDiag struct {
		at      string // LINE:COLUMN of the subject
		summary string
		detail  string // a part of the detail
	}
	tests := []struct {
		name     string
		pipeline string
		want     []wantDiag
		notInAny string // a text no detail may contain
	}{{
		name: "command error in every instance",
		pipeline: depths + `
stage "train" {
  for_each = param.depths
  outputs  = { model = "build/${each.key}.txt" }
  command  = "echo ${upper(1, 2)} > ${outputs.model}"
}
`,
		want: []wantDiag{
			{"9:31", "Too many function arguments", `This error occurs in all 5 for_each instances of stage "train".`},
		},
	}, {
		name: "attribute error in every instance",
		pipeline: depths + `
stage "train" {
  for_each = param.depths
  outputs  = { model = "build/${each.key}.txt" }
  command  = "true"
  timeout  = "soon"
}
`,
		want: []wantDiag{
			{"10:14", "Invalid timeout", `timeout must be a duration such as "90s" or "2h", or a number of seconds. This error occurs in all 5 for_each instances of stage "train".`},
		},
	}, {
		name: "outputs error in every instance",
		pipeline: depths + `
stage "train" {
  for_each = param.depths
  outputs  = { model = "build/${nosuchfn(each.key)}.txt" }
  command  = "true"
}
`,
		want: []wantDiag{
			{"8:33", "Call to unknown function", `in all 5 for_each instances of stage "train"`},
		},
	}, {
		name: "value bad for one key",
		pipeline: depths + `
stage "train" {
  for_each = param.depths
  outputs  = { model = "build/${each.key}.txt" }
  command  = "echo ${each.value + 1} > ${outputs.model}"
}
`,
		want: []wantDiag{
			{"9:22", "Invalid operand", "This error occurs in for_each instance train[e]."},
		},
		notInAny: "all 5",
	}, {
		name: "value bad for two keys",
		pipeline: `
param "depths" {
  default = { a = 1, b = "x", c = 3, d = "y" }
}

stage "train" {
  for_each = param.depths
  outputs  = { model = "build/${each.key}.txt" }
  command  = "echo ${each.value + 1} > ${outputs.model}"
}
`,
		want: []wantDiag{
			{"9:22", "Invalid operand", `This error occurs in 2 of the 4 for_each instances of stage "train": train[b], train[d].`},
		},
	}, {
		name: "shared and one-key errors together",
		pipeline: depths + `
stage "train" {
  for_each = param.depths
  outputs  = { model = "build/${each.key}.txt" }
  command  = "echo ${upper(1, 2)} ${each.value + 1} > ${outputs.model}"
}
`,
		want: []wantDiag{
			{"9:31", "Too many function arguments", `all 5 for_each instances of stage "train"`},
			{"9:37", "Invalid operand", "This error occurs in for_each instance train[e]."},
		},
	}, {
		name: "messages that differ per key stay apart",
		pipeline: `
stage "train" {
  for_each = toset(["a", "b"])
  outputs  = { model = "../${each.key}.txt" }
  command  = "true"
}
`,
		want: []wantDiag{
			{"4:24", "Invalid path in outputs", "This error occurs in for_each instance train[a]."},
			{"4:24", "Invalid path in outputs", "This error occurs in for_each instance train[b]."},
		},
	}, {
		name: "one key",
		pipeline: `
stage "train" {
  for_each = toset(["only"])
  outputs  = { model = "build/${each.key}.txt" }
  command  = "echo ${upper(1, 2)}"
}
`,
		want: []wantDiag{
			{"5:31", "Too many function arguments", "This error occurs in for_each instance train[only]."},
		},
	}, {
		name: "many keys listed up to the limit",
		pipeline: `
stage "train" {
  for_each = toset([for i in range(14) : format("k%02d", i)])
  outputs  = { model = "build/${each.key}.txt" }
  command  = "echo ${each.key == "k00" ? "fine" : upper(1, 2)}"
}
`,
		want: []wantDiag{
			{"5:60", "Too many function arguments", "This error occurs in 13 of the 14 for_each instances of stage \"train\": train[k01], train[k02], train[k03], train[k04], train[k05], train[k06], train[k07], train[k08], train[k09], train[k10] and 3 more."},
		},
	}, {
		name: "two stages with for_each",
		pipeline: depths + `
stage "train" {
  for_each = param.depths
  outputs  = { model = "build/train-${each.key}.txt" }
  command  = "echo ${upper(1, 2)}"
}

stage "score" {
  for_each = param.depths
  outputs  = { score = "build/score-${each.key}.txt" }
  command  = "echo ${upper(1, 2)}"
}
`,
		want: []wantDiag{
			{"9:31", "Too many function arguments", `of stage "train"`},
			{"15:31", "Too many function arguments", `of stage "score"`},
		},
	}, {
		name: "stage without for_each",
		pipeline: `
stage "train" {
  outputs = { model = "build/model.txt" }
  command = "echo ${upper(1, 2)}"
}
`,
		want: []wantDiag{
			{"4:30", "Too many function arguments", `Function "upper" expects only 1 argument(s).`},
		},
		notInAny: "for_each",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, diags := loadDiags(newWorkspace(t, tt.pipeline, nil))
			if len(diags) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(diags), len(tt.want), showDiags(p, diags))
			}
			for i, w := range tt.want {
				d := diags[i]
				if d.Severity != hcl.DiagError {
					t.Errorf("diagnostic %d is not an error:\n%s", i, showDiags(p, diags))
				}
				if d.Subject == nil {
					t.Errorf("diagnostic %d has no range", i)
					continue
				}
				if at := fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column); at != w.at {
					t.Errorf("diagnostic %d is at %s, want %s", i, at, w.at)
				}
				if d.Summary != w.summary {
					t.Errorf("diagnostic %d has summary %q, want %q", i, d.Summary, w.summary)
				}
				if !strings.Contains(d.Detail, w.detail) {
					t.Errorf("diagnostic %d has detail %q, want it to contain %q", i, d.Detail, w.detail)
				}
				if tt.notInAny != "" && strings.Contains(d.Detail, tt.notInAny) {
					t.Errorf("diagnostic %d has detail %q, which should not contain %q", i, d.Detail, tt.notInAny)
				}
			}
		})
	}
}

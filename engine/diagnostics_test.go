package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// wantLine marks an expected diagnostic inside a fixture:
// "# want: FILE:LINE:COLUMN: SUMMARY", where the diagnostic's summary must
// start with SUMMARY.
var wantLine = regexp.MustCompile(`(?m)^# want: (\S+:\d+:\d+): (.+)$`)

// loadDiags loads, resolves params for and resolves the pipeline at root,
// as mlb build does, and returns the diagnostics of the first step that
// fails.
func loadDiags(root string) (*Pipeline, hcl.Diagnostics) {
	p, diags := Load(root)
	if diags.HasErrors() {
		return p, diags
	}
	params, d := p.ResolveParams(ParamSources{})
	diags = append(diags, d...)
	if diags.HasErrors() {
		return p, diags
	}
	_, d = p.Resolve(params)
	return p, append(diags, d...)
}

// TestInvalidPipelines loads each file in testdata/invalid as a workspace's
// mlb.hcl and checks that its errors are exactly the ones marked inside it,
// each at its line and column and with a detail for the author.
func TestInvalidPipelines(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/invalid")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".hcl"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			marks := wantLine.FindAllSubmatch(src, -1)
			if len(marks) == 0 {
				t.Fatalf("%s has no # want: line", file)
			}
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, PipelineFile), src, 0o644); err != nil {
				t.Fatal(err)
			}

			p, diags := loadDiags(root)
			var got []string
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				where := "no range"
				if d.Subject != nil {
					where = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
				}
				got = append(got, where+": "+d.Summary)
				if strings.TrimSpace(d.Detail) == "" {
					t.Errorf("%s: %s has no detail to tell the author what to do", where, d.Summary)
				}
			}
			slices.Sort(got)

			var want []string
			for _, m := range marks {
				want = append(want, string(m[1])+": "+string(m[2]))
			}
			slices.Sort(want)
			if !matchDiags(got, want) {
				t.Errorf("errors:\n  %s\nwant:\n  %s\nfull output:\n%s",
					strings.Join(got, "\n  "), strings.Join(want, "\n  "), showDiags(p, diags))
			}
		})
	}
}

// matchDiags reports whether got and want, both sorted, pair up one to one,
// each got line starting with its want line.
func matchDiags(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}

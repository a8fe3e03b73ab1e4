package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// workspacePath cleans a path that must stay inside the workspace and
// returns it slash-separated and relative to root. An absolute path inside
// root is made relative, so it cannot put the workspace's location into a
// stage key.
func workspacePath(p, root string) (string, error) {
	if p == "" {
		return "", errors.New("the path is empty")
	}
	clean := filepath.Clean(p)
	if filepath.IsAbs(clean) {
		rel, err := filepath.Rel(root, clean)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return "", fmt.Errorf("%s is outside the workspace %s: outputs and workdirs must be inside it", p, root)
		}
		clean = rel
	}
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%s is outside the workspace: outputs and workdirs must be inside it", p)
	}
	if clean == StateDir || strings.HasPrefix(clean, StateDir+"/") {
		return "", fmt.Errorf("%s is inside %s, where mlb keeps its state", p, StateDir)
	}
	return filepath.ToSlash(clean), nil
}

// inputPath cleans an input path. Inputs may live outside the workspace;
// those keep their written form, relative or absolute.
func inputPath(p, root string) (string, error) {
	if p == "" {
		return "", errors.New("the path is empty")
	}
	clean := filepath.Clean(p)
	if filepath.IsAbs(clean) {
		if rel, err := filepath.Rel(root, clean); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			clean = rel
		}
	}
	return filepath.ToSlash(clean), nil
}

// relPath returns p relative to the workspace folder dir; paths outside the
// workspace are returned unchanged.
func relPath(dir, p string) string {
	if filepath.IsAbs(p) || strings.HasPrefix(p, "../") {
		return p
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

func pathDiag(attr *hcl.Attribute, summary string, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: err.Error() + ".", Subject: attr.Expr.Range().Ptr()}
}

// itemRange returns the source range of the value for key name in an
// object constructor such as outputs = { model = "..." }, or the whole
// attribute's range when it cannot be found.
func itemRange(attr *hcl.Attribute, name string) hcl.Range {
	if obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr); ok {
		top, _, _ := strings.Cut(name, ".")
		top, _, _ = strings.Cut(top, "[")
		for _, item := range obj.Items {
			k, d := item.KeyExpr.Value(nil)
			if !d.HasErrors() && k.Type() == cty.String && k.AsString() == top {
				return item.ValueExpr.Range()
			}
		}
	}
	return attr.Expr.Range()
}

func hasPath(refs []PathRef, path string) bool {
	for _, r := range refs {
		if r.Path == path {
			return true
		}
	}
	return false
}

type ownedPath struct {
	stage *Stage
	ref   PathRef
}

// checkPaths rejects outputs declared twice or nested in one another and
// paths that are both input and output of one stage, and adds an edge from
// a stage to every stage whose output its inputs lie inside or contain.
func checkPaths(stages []*Stage) hcl.Diagnostics {
	var diags hcl.Diagnostics
	owner := map[string]ownedPath{}
	var all []string
	for _, s := range stages {
		for _, o := range s.Outputs {
			if o.Path == "." {
				diags = append(diags, outputDiag(o, "Invalid output path", "An output cannot be the workspace itself. Name a file or folder inside it."))
				continue
			}
			if o.Path == PipelineFile {
				diags = append(diags, outputDiag(o, "Invalid output path", "An output cannot be "+PipelineFile+": mlb removes a stage's outputs before running it. Name another file."))
				continue
			}
			if prev, ok := owner[o.Path]; ok {
				diags = append(diags, outputDiag(o, "Output declared twice",
					fmt.Sprintf("%s is an output of stage %s and of stage %s (at %s). Each path must have one producer: rename one of them.", o.Path, prev.stage.Name, s.Name, position(prev.ref.Range))))
				continue
			}
			owner[o.Path] = ownedPath{s, o}
			all = append(all, o.Path)
		}
	}
	sort.Strings(all)
	for _, p := range all {
		if parent, ok := ancestorIn(p, owner); ok {
			o := owner[p]
			diags = append(diags, outputDiag(o.ref, "Nested outputs",
				fmt.Sprintf("%s (stage %s) is inside %s, an output of stage %s (at %s). Outputs must not contain one another: move one of them.", p, o.stage.Name, parent.ref.Path, parent.stage.Name, position(parent.ref.Range))))
		}
	}

	for _, s := range stages {
		deps := map[string]bool{}
		for _, d := range s.Deps {
			deps[d] = true
		}
		for _, in := range s.Inputs {
			if strings.HasPrefix(in.Path, "../") || filepath.IsAbs(in.Path) {
				continue
			}
			var producers []ownedPath
			if o, ok := owner[in.Path]; ok {
				producers = append(producers, o)
			}
			if o, ok := ancestorIn(in.Path, owner); ok {
				producers = append(producers, o)
			}
			producers = append(producers, descendantsIn(in.Path, all, owner)...)
			for _, o := range producers {
				if o.stage == s {
					diags = append(diags, outputDiag(in, "Path is both input and output",
						fmt.Sprintf("Stage %s reads %s and writes %s. A stage cannot read what it writes: give the output another path.", s.Name, in.Path, o.ref.Path)))
					continue
				}
				deps[o.stage.Name] = true
			}
		}
		s.Deps = s.Deps[:0]
		for d := range deps {
			s.Deps = append(s.Deps, d)
		}
		sort.Strings(s.Deps)
	}
	return diags
}

// position formats the start of r as FILE:LINE:COLUMN, the form mlb prints
// diagnostics in.
func position(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// declaredAt returns position(r), or "" for a range that names no file.
func declaredAt(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return position(r)
}

func outputDiag(r PathRef, summary, detail string) *hcl.Diagnostic {
	rng := r.Range
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}
}

// ancestorIn returns the owner of the nearest folder above p in owner.
func ancestorIn(p string, owner map[string]ownedPath) (ownedPath, bool) {
	for dir := parentDir(p); dir != ""; dir = parentDir(dir) {
		if o, ok := owner[dir]; ok {
			return o, true
		}
	}
	return ownedPath{}, false
}

func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// descendantsIn returns the owners of the paths in sorted that lie inside
// the folder dir.
func descendantsIn(dir string, sorted []string, owner map[string]ownedPath) []ownedPath {
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	var out []ownedPath
	for i := sort.SearchStrings(sorted, prefix); i < len(sorted) && strings.HasPrefix(sorted[i], prefix); i++ {
		out = append(out, owner[sorted[i]])
	}
	return out
}

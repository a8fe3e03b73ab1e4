package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlbuild/mlb/cache"
)

// LineageNode is one file or folder in the lineage of an output: either a
// stage's output, with the stage, its params and its inputs, or a source
// input that no stage produced.
type LineageNode struct {
	Path   string            `json:"path"`
	Digest cache.Digest      `json:"digest"`
	Stage  string            `json:"stage,omitempty"` // empty for a source
	Key    string            `json:"key,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	Inputs []*LineageNode    `json:"inputs,omitempty"`
}

// Lineage is the answer to "where did this come from".
type Lineage struct {
	Run  string       `json:"run"`
	Root *LineageNode `json:"root"`
}

// FindLineage traces target, a workspace path or a digest (a unique hex
// prefix of at least 6 characters), through the newest run that produced
// it. For a path that exists in the workspace, the run must have produced
// its current contents.
func (w *Workspace) FindLineage(target string) (*Lineage, error) {
	runs, err := ListRuns(w.Store)
	if err != nil {
		return nil, err
	}
	rel, current := w.lineageTarget(target)
	for _, rec := range runs {
		for _, s := range rec.Stages {
			for _, o := range s.Outputs {
				match := false
				switch {
				case rel != "" && o.Path == rel:
					match = current.IsZero() || current == o.Digest
				case rel == "":
					match = len(target) >= 6 && strings.HasPrefix(o.Digest.String(), strings.ToLower(target))
				}
				if match {
					return &Lineage{Run: rec.Hash, Root: traceOutput(rec, s, o, map[string]bool{})}, nil
				}
			}
		}
	}
	if rel != "" && !current.IsZero() {
		return nil, fmt.Errorf("lineage: no recorded run produced the current contents of %s (digest %s): it was changed by hand, or built with a cache that is not this one", rel, current.String()[:12])
	}
	return nil, fmt.Errorf("lineage: no recorded run produced %s", target)
}

// lineageTarget returns target as a workspace-relative path with the
// digest of what is there now, or "" when target is not a path.
func (w *Workspace) lineageTarget(target string) (string, cache.Digest) {
	abs, err := filepath.Abs(target)
	if err != nil {
		return "", cache.Digest{}
	}
	rel, err := filepath.Rel(w.Root, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", cache.Digest{}
	}
	rel = filepath.ToSlash(rel)
	if _, err := os.Stat(abs); err != nil {
		if isHex(target) {
			return "", cache.Digest{}
		}
		return rel, cache.Digest{}
	}
	in, err := w.inputState(rel)
	if err != nil {
		return rel, cache.Digest{}
	}
	return rel, in.Digest
}

func isHex(s string) bool {
	for _, c := range strings.ToLower(s) {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return s != ""
}

func traceOutput(rec *RunRecord, s *StageRun, o cache.Output, seen map[string]bool) *LineageNode {
	n := &LineageNode{Path: o.Path, Digest: o.Digest, Stage: s.Name, Key: s.Key.String()}
	if seen[s.Name] || s.Parts == nil {
		return n
	}
	seen[s.Name] = true
	defer delete(seen, s.Name)
	n.Params = s.Parts.Params
	for _, name := range sortedKeys(s.Parts.Inputs) {
		in := s.Parts.Inputs[name]
		if ps, po, ok := producerOf(rec, in.Path); ok {
			child := traceOutput(rec, ps, po, seen)
			if po.Path != in.Path {
				// The input lies inside a produced folder.
				child = &LineageNode{Path: in.Path, Digest: in.Digest, Inputs: []*LineageNode{child}}
			}
			n.Inputs = append(n.Inputs, child)
			continue
		}
		n.Inputs = append(n.Inputs, &LineageNode{Path: in.Path, Digest: in.Digest})
	}
	return n
}

// producerOf finds the stage of rec whose output is path or a folder
// holding it.
func producerOf(rec *RunRecord, path string) (*StageRun, cache.Output, bool) {
	for _, s := range rec.Stages {
		for _, o := range s.Outputs {
			if o.Path == path || strings.HasPrefix(path, o.Path+"/") {
				return s, o, true
			}
		}
	}
	return nil, cache.Output{}, false
}

// Sources returns the source inputs at the leaves of the lineage, sorted.
func (l *Lineage) Sources() []*LineageNode {
	seen := map[string]*LineageNode{}
	var walk func(n *LineageNode)
	walk = func(n *LineageNode) {
		if n.Stage == "" && len(n.Inputs) == 0 {
			seen[n.Path] = n
		}
		for _, c := range n.Inputs {
			walk(c)
		}
	}
	walk(l.Root)
	var out []*LineageNode
	for _, k := range sortedKeys(seen) {
		out = append(out, seen[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

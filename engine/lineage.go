package engine

import (
	"encoding/json"
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

// Lineage is the chain of stages and inputs behind one output, in one run.
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
	if rel == "" && isHex(target) && len(target) < 6 {
		return nil, fmt.Errorf("lineage: digest prefix %q is too short: give at least 6 characters", target)
	}
	for _, rec := range runs {
		for _, s := range rec.Stages {
			for _, o := range s.Outputs {
				var root *LineageNode
				switch {
				case rel != "" && o.Path == rel:
					if current.IsZero() || current == o.Digest {
						root = traceOutput(rec, s, o, map[string]bool{})
					}
				case rel != "" && o.Kind == cache.KindDir && strings.HasPrefix(rel, o.Path+"/"):
					// A file or folder inside a produced folder: its digest
					// comes from the folder's tree.
					d, ok := w.digestInside(o, strings.TrimPrefix(rel, o.Path+"/"))
					if ok && (current.IsZero() || current == d) {
						root = &LineageNode{Path: rel, Digest: d, Inputs: []*LineageNode{traceOutput(rec, s, o, map[string]bool{})}}
					}
				case rel == "" && strings.HasPrefix(o.Digest.String(), strings.ToLower(target)):
					root = traceOutput(rec, s, o, map[string]bool{})
				}
				if root != nil {
					return &Lineage{Run: rec.Hash, Root: root}, nil
				}
			}
		}
	}
	if rel != "" {
		for _, rec := range runs {
			for _, src := range rec.Sources {
				if src.Path == rel {
					return nil, fmt.Errorf("lineage: %s is a source input, which no stage produces; run %s read it with digest %s. Give an output path, such as one of the stage outputs that `mlb show %s` lists", rel, rec.Hash[:12], src.Digest.String()[:12], rec.Hash[:12])
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

// digestInside returns the digest that inner, a path relative to the folder
// output o, had in o: a file's content digest, or a sub-folder's tree
// digest. It reports false when o's tree is not in the store or does not
// list inner as a file or folder.
func (w *Workspace) digestInside(o cache.Output, inner string) (cache.Digest, bool) {
	data, err := w.Store.ReadBlob(o.Digest)
	if err != nil {
		return cache.Digest{}, false
	}
	t, err := cache.DecodeTree(data)
	if err != nil {
		return cache.Digest{}, false
	}
	isDir := false
	sub := &cache.Tree{}
	for _, e := range t.Entries {
		switch {
		case e.Path == inner && e.Kind == cache.KindFile:
			return e.Digest, true
		case e.Path == inner && e.Kind == cache.KindDir:
			isDir = true
		case strings.HasPrefix(e.Path, inner+"/"):
			e.Path = strings.TrimPrefix(e.Path, inner+"/")
			sub.Entries = append(sub.Entries, e)
		}
	}
	if !isDir {
		return cache.Digest{}, false
	}
	return sub.Digest(), true
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
	n.Params = make(map[string]string, len(s.Parts.Params))
	for name, value := range s.Parts.Params {
		n.Params[name] = paramText(value)
	}
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

// paramText returns a param value from a stage's key parts, which hold it as
// canonical JSON, as a user writes it: a string without its JSON quotes and
// escapes, any other value as its JSON text.
func paramText(canonical string) string {
	var s string
	if json.Unmarshal([]byte(canonical), &s) == nil {
		return s
	}
	return canonical
}

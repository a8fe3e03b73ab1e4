package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/mlbuild/mlb/cache"
)

// Stage is an evaluated stage: every expression resolved to plain values.
type Stage struct {
	Name        string
	Description string
	Inputs      []PathRef // sorted by name
	Outputs     []PathRef // sorted by name; metrics files included
	Metrics     []string  // workspace-relative paths of metrics files
	Argv        []string  // set when the command is a list
	Shell       string    // set when the command is a string
	Env         map[string]string
	Workdir     string // workspace-relative; "" is the workspace root
	Cache       bool
	Timeout     time.Duration
	Params      map[string]string // referenced params: dotted path -> canonical JSON
	Deps        []string          // names of the stages this one needs, sorted
	Block       *StageBlock

	each         cty.Value // each.key and each.value of a for_each instance, else cty.NilVal
	eachKey      string
	outputsValue cty.Value // the evaluated outputs, the value of outputs.*
}

// PathRef is one named input or output path. Path is slash-separated and
// relative to the workspace, except an input outside the workspace, which
// keeps the form it was written in.
type PathRef struct {
	Name  string
	Path  string
	Range hcl.Range
}

// Graph is a resolved pipeline: its stages in an order where every stage
// comes after the stages it depends on.
type Graph struct {
	Pipeline *Pipeline
	Params   Params
	Stages   []*Stage
	byName   map[string]*Stage

	fromCache bool // decoded from the workspace's cached graph, not parsed

	// key digests everything the graph was resolved from (compiledKey);
	// zero when it could not be computed or resolution warned.
	key cache.Digest
}

// Stage returns the stage named name, or nil.
func (g *Graph) Stage(name string) *Stage { return g.byName[name] }

// Select returns the named stages and everything they depend on, in graph
// order; no names selects every stage. An unknown name is an error.
func (g *Graph) Select(names []string) ([]*Stage, error) {
	if len(names) == 0 {
		return g.Stages, nil
	}
	want := map[string]bool{}
	var visit func(s *Stage)
	visit = func(s *Stage) {
		if want[s.Name] {
			return
		}
		want[s.Name] = true
		for _, d := range s.Deps {
			visit(g.byName[d])
		}
	}
	for _, n := range names {
		s := g.byName[n]
		if s == nil && g.Pipeline.stageBlock(n) != nil {
			// A stage with for_each: every instance.
			for _, inst := range g.Stages {
				if inst.Block.Name == n {
					visit(inst)
				}
			}
			continue
		}
		if s == nil {
			return nil, fmt.Errorf("no stage named %q in %s: declared stages are %s", n, PipelineFile, strings.Join(g.Pipeline.stageNames(), ", "))
		}
		visit(s)
	}
	var out []*Stage
	for _, s := range g.Stages {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// Dependents returns, for each stage name, the names of the stages that
// depend on it directly.
func (g *Graph) Dependents() map[string][]string {
	out := map[string][]string{}
	for _, s := range g.Stages {
		for _, d := range s.Deps {
			out[d] = append(out[d], s.Name)
		}
	}
	return out
}

// order sorts stages so each follows its dependencies, keeping declaration
// order where the graph allows, or reports a cycle naming its stages.
func order(stages []*Stage) ([]*Stage, hcl.Diagnostics) {
	byName := map[string]*Stage{}
	for _, s := range stages {
		byName[s.Name] = s
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var sorted []*Stage
	var stack []string
	var diags hcl.Diagnostics
	var visit func(s *Stage) bool
	visit = func(s *Stage) bool {
		switch state[s.Name] {
		case done:
			return true
		case visiting:
			i := len(stack) - 1
			for stack[i] != s.Name {
				i--
			}
			cycle := append(append([]string{}, stack[i:]...), s.Name)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Dependency cycle: " + strings.Join(cycle, " -> "),
				Detail:   "Stages " + strings.Join(cycle[:len(cycle)-1], ", ") + " depend on each other in a cycle, so none can run first. Remove one of the references or depends_on entries that close it.",
				Subject:  s.Block.DeclRange.Ptr(),
			})
			return false
		}
		state[s.Name] = visiting
		stack = append(stack, s.Name)
		for _, d := range s.Deps {
			if !visit(byName[d]) {
				return false
			}
		}
		stack = stack[:len(stack)-1]
		state[s.Name] = done
		sorted = append(sorted, s)
		return true
	}
	for _, s := range stages {
		if !visit(s) {
			return nil, diags
		}
	}
	return sorted, nil
}

func sortRefs(refs []PathRef) {
	sort.Slice(refs, func(i, j int) bool { return refs[i].Name < refs[j].Name })
}

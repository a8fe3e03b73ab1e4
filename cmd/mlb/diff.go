package main

import (
	"fmt"
	"io"
	"math"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type diffOptions struct{ json bool }

// runDiff is the set of differences between two runs.
type runDiff struct {
	A       string        `json:"a"`
	B       string        `json:"b"`
	Params  []paramDiff   `json:"params"`
	Metrics []metricDiff  `json:"metrics"`
	Stages  []stageChange `json:"stages"`
}

type paramDiff struct {
	Name string  `json:"name"`
	A    *string `json:"a"` // nil when the run lacks the param
	B    *string `json:"b"`
}

type metricDiff struct {
	Name  string   `json:"name"`
	A     *float64 `json:"a"`
	B     *float64 `json:"b"`
	Delta *float64 `json:"delta"` // B - A, when both exist
}

type stageChange struct {
	Name    string   `json:"name"`
	KeyA    string   `json:"key_a,omitempty"`
	KeyB    string   `json:"key_b,omitempty"`
	Reasons []string `json:"reasons"`
}

func newDiffCmd(g *globalOptions) *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff RUN_A [RUN_B]",
		Short: "Compare two runs: params, metrics and stage keys",
		Long: `Diff prints the params that differ between two runs, every metric with both
values and the change from A to B, and the stages whose keys differ with the
reason: which input, param, env or command changed. RUN_B defaults to the
newest run.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := openWorkspace(g)
			if err != nil {
				return err
			}
			defer ws.Close()
			a, err := engine.FindRun(ws.Store, args[0])
			if err != nil {
				return err
			}
			b, err := latestOrFind(ws, firstArg(args[1:]))
			if err != nil {
				return err
			}
			d := diffRuns(a, b)
			if o.json {
				return writeJSON(g.stdout, d)
			}
			printDiff(g.stdout, d)
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the differences as JSON")
	return cmd
}

func diffRuns(a, b *engine.RunRecord) *runDiff {
	d := &runDiff{A: a.Hash, B: b.Hash, Params: []paramDiff{}, Metrics: []metricDiff{}, Stages: []stageChange{}}
	pa, pb := flattenParams(a.Params), flattenParams(b.Params)
	for _, k := range unionNames(pa, pb) {
		va, aok := pa[k]
		vb, bok := pb[k]
		if aok && bok && va == vb {
			continue
		}
		pd := paramDiff{Name: k}
		if aok {
			pd.A = &va
		}
		if bok {
			pd.B = &vb
		}
		d.Params = append(d.Params, pd)
	}
	for _, k := range unionNames(a.Metrics, b.Metrics) {
		md := metricDiff{Name: k}
		if v, ok := a.Metrics[k]; ok {
			md.A = &v
		}
		if v, ok := b.Metrics[k]; ok {
			md.B = &v
		}
		if md.A != nil && md.B != nil {
			delta := *md.B - *md.A
			md.Delta = &delta
		}
		d.Metrics = append(d.Metrics, md)
	}
	stagesA := map[string]*engine.StageRun{}
	for _, s := range a.Stages {
		stagesA[s.Name] = s
	}
	seen := map[string]bool{}
	for _, sb := range b.Stages {
		seen[sb.Name] = true
		sa := stagesA[sb.Name]
		switch {
		case sa == nil:
			d.Stages = append(d.Stages, stageChange{Name: sb.Name, KeyB: sb.Key.String(), Reasons: []string{"only in " + b.Hash[:12]}})
		case sa.Key != sb.Key:
			d.Stages = append(d.Stages, stageChange{Name: sb.Name, KeyA: sa.Key.String(), KeyB: sb.Key.String(), Reasons: engine.KeyChanges(sa.Parts, sb.Parts)})
		}
	}
	for _, sa := range a.Stages {
		if !seen[sa.Name] {
			d.Stages = append(d.Stages, stageChange{Name: sa.Name, KeyA: sa.Key.String(), Reasons: []string{"only in " + a.Hash[:12]}})
		}
	}
	return d
}

func printDiff(w io.Writer, d *runDiff) {
	fmt.Fprintf(w, "A %s\nB %s\n", d.A, d.B)
	fmt.Fprintln(w, "params")
	if len(d.Params) == 0 {
		fmt.Fprintln(w, "  (same)")
	}
	for _, p := range d.Params {
		fmt.Fprintf(w, "  %s: %s -> %s\n", p.Name, strOrNone(p.A), strOrNone(p.B))
	}
	fmt.Fprintln(w, "metrics")
	if len(d.Metrics) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, m := range d.Metrics {
		delta := ""
		if m.Delta != nil {
			delta = fmt.Sprintf("  (%s)", signed(*m.Delta))
		}
		fmt.Fprintf(w, "  %s: %s -> %s%s\n", m.Name, numOrNone(m.A), numOrNone(m.B), delta)
	}
	fmt.Fprintln(w, "stages")
	if len(d.Stages) == 0 {
		fmt.Fprintln(w, "  (same keys)")
	}
	for _, s := range d.Stages {
		fmt.Fprintf(w, "  %s\n", s.Name)
		for _, r := range s.Reasons {
			fmt.Fprintf(w, "    - %s\n", r)
		}
	}
}

func signed(f float64) string {
	if f >= 0 && !math.Signbit(f) {
		return "+" + formatNumber(f)
	}
	return formatNumber(f)
}

func strOrNone(s *string) string {
	if s == nil {
		return "(unset)"
	}
	return *s
}

func numOrNone(f *float64) string {
	if f == nil {
		return "(none)"
	}
	return formatNumber(*f)
}

func unionNames[V any](a, b map[string]V) []string {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return sortedNames(m)
}

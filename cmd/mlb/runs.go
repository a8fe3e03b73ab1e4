package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

var errNoRuns = errors.New("no runs recorded yet: run mlb build")

type runsOptions struct {
	json    bool
	limit   int
	sort    string
	filters []string
	remote  string // remote cache URL, or configuredRemote; "" lists local runs
}

// runLine is one run in mlb runs --json.
type runLine struct {
	Hash     string             `json:"hash"`
	Started  string             `json:"started"`
	Status   string             `json:"status"`
	Executed int                `json:"executed"`
	Restored int                `json:"restored"`
	UpToDate int                `json:"up_to_date"`
	Failed   int                `json:"failed"`
	Params   map[string]string  `json:"params"`
	Metrics  map[string]float64 `json:"metrics"`
}

func newRunsCmd(g *globalOptions) *cobra.Command {
	o := &runsOptions{}
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List past builds with their stages and metrics, newest first",
		Long: `Runs lists every recorded build: its run hash, start time, status, how many
stages were executed, restored or kept, and a column per metric.

  mlb runs --sort auc            # ascending by a metric
  mlb runs --sort -auc           # descending
  mlb runs --filter max_depth=15 --filter 'auc>0.85'

A filter compares a metric, or a param by its dotted path, with =, !=, <,
<=, > or >=. Runs without the metric or param are left out.`,
		Args: func(cmd *cobra.Command, args []string) error {
			// A bare --remote means the configured remote, so in
			// "--remote URL" the flag parser leaves the URL as an
			// argument, and runs takes none else.
			if len(args) > 0 && o.remote == configuredRemote {
				o.remote, args = args[0], args[1:]
			}
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unexpected argument %q: mlb runs takes only flags", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.limit < 0 {
				return &usageError{fmt.Errorf("invalid --limit %d: give a positive number, or 0 for all runs", o.limit)}
			}
			filters, err := parseFilters(o.filters)
			if err != nil {
				return &usageError{err}
			}
			if o.remote != "" && o.remote != configuredRemote {
				if err := flagURL(o.remote).check(); err != nil {
					return err
				}
			}
			ws, err := openWorkspace(g)
			if err != nil {
				return err
			}
			defer ws.Close()
			runs, err := listRuns(cmd.Context(), ws, o.remote)
			if err != nil {
				return err
			}
			all := make([]runLine, 0, len(runs))
			for _, r := range runs {
				all = append(all, toRunLine(r))
			}
			if err := checkRunNames(all, o.sort, filters); err != nil {
				return &usageError{err}
			}
			lines := make([]runLine, 0, len(all))
			for _, l := range all {
				if matchAll(filters, l) {
					lines = append(lines, l)
				}
			}
			if o.sort != "" {
				sortRuns(lines, o.sort)
			}
			if o.limit > 0 && len(lines) > o.limit {
				lines = lines[:o.limit]
			}
			if o.json {
				return writeJSON(g.stdout, lines)
			}
			printRuns(g.stdout, lines)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print the runs as JSON")
	f.IntVar(&o.limit, "limit", 0, "list at most this many runs (0: all)")
	f.StringVar(&o.sort, "sort", "", "sort by a metric, ascending; prefix it with - for descending")
	addRunsRemoteFlag(f, &o.remote)
	f.StringArrayVar(&o.filters, "filter", nil, "keep runs where a metric or param compares true, e.g. 'auc>0.85' or max_depth=15 (repeatable)")
	return cmd
}

func toRunLine(r *engine.RunRecord) runLine {
	l := runLine{Hash: r.Hash, Started: r.Started.Format("2006-01-02T15:04:05Z"), Status: r.Status,
		Metrics: r.Metrics, Params: flattenParams(r.Params)}
	l.Executed, l.Restored, l.UpToDate, l.Failed = r.Counts()
	if l.Metrics == nil {
		l.Metrics = map[string]float64{}
	}
	return l
}

// sortRuns orders lines by a metric; runs without it go last.
func sortRuns(lines []runLine, key string) {
	desc := strings.HasPrefix(key, "-")
	key = strings.TrimPrefix(key, "-")
	sort.SliceStable(lines, func(i, j int) bool {
		a, aok := lines[i].Metrics[key]
		b, bok := lines[j].Metrics[key]
		switch {
		case aok != bok:
			return aok
		case !aok:
			return false
		case desc:
			return a > b
		}
		return a < b
	})
}

type runFilter struct {
	key, op, value string
}

// parseFilters parses NAME OP VALUE specs. The operator is the first one in
// the spec, so a value may itself hold operator characters: name=a<=b
// compares the param name with the text a<=b.
func parseFilters(specs []string) ([]runFilter, error) {
	var out []runFilter
	for _, s := range specs {
		i := strings.IndexAny(s, "!=<>")
		op := ""
		switch {
		case i <= 0:
		case strings.HasPrefix(s[i:], "!="), strings.HasPrefix(s[i:], "<="), strings.HasPrefix(s[i:], ">="):
			op = s[i : i+2]
		case s[i] != '!':
			op = s[i : i+1]
		}
		var key string
		if op != "" {
			key = strings.TrimSpace(s[:i])
		}
		if key == "" {
			return nil, fmt.Errorf("invalid --filter %q: write NAME OP VALUE with OP one of = != < <= > >=, e.g. 'auc>0.85'", s)
		}
		out = append(out, runFilter{key: key, op: op, value: strings.TrimSpace(s[i+len(op):])})
	}
	return out, nil
}

func matchAll(filters []runFilter, l runLine) bool {
	for _, f := range filters {
		if !f.match(l) {
			return false
		}
	}
	return true
}

func (f runFilter) match(l runLine) bool {
	var have string
	if v, ok := l.Metrics[f.key]; ok {
		have = strconv.FormatFloat(v, 'g', -1, 64)
	} else if v, ok := l.Params[f.key]; ok {
		have = v
	} else {
		return false
	}
	a, aerr := strconv.ParseFloat(have, 64)
	b, berr := strconv.ParseFloat(f.value, 64)
	if aerr == nil && berr == nil {
		switch f.op {
		case "=":
			return a == b
		case "!=":
			return a != b
		case "<":
			return a < b
		case "<=":
			return a <= b
		case ">":
			return a > b
		case ">=":
			return a >= b
		}
	}
	switch f.op {
	case "=":
		return have == f.value
	case "!=":
		return have != f.value
	}
	return false
}

func printRuns(w io.Writer, lines []runLine) {
	if len(lines) == 0 {
		fmt.Fprintln(w, "no runs match: run mlb build, or loosen --filter")
		return
	}
	metricSet := map[string]bool{}
	for _, l := range lines {
		for k := range l.Metrics {
			metricSet[k] = true
		}
	}
	var metrics []string
	for k := range metricSet {
		metrics = append(metrics, k)
	}
	sort.Strings(metrics)

	header := fmt.Sprintf("%-12s  %-20s  %-9s  %4s  %4s  %4s", "RUN", "STARTED", "STATUS", "EXEC", "REST", "KEPT")
	for _, m := range metrics {
		header += fmt.Sprintf("  %10s", m)
	}
	fmt.Fprintln(w, header)
	for _, l := range lines {
		row := fmt.Sprintf("%-12s  %-20s  %-9s  %4d  %4d  %4d", l.Hash[:12], l.Started, l.Status, l.Executed, l.Restored, l.UpToDate)
		for _, m := range metrics {
			v, ok := l.Metrics[m]
			cell := "-"
			if ok && !math.IsNaN(v) {
				cell = formatNumber(v)
			}
			row += fmt.Sprintf("  %10s", cell)
		}
		fmt.Fprintln(w, row)
	}
}

// checkRunNames rejects a --sort or --filter name that no run has as a
// metric or param, which would otherwise sort nothing or match nothing
// without a word.
func checkRunNames(lines []runLine, sortKey string, filters []runFilter) error {
	if len(lines) == 0 {
		return nil
	}
	metrics, params := map[string]bool{}, map[string]bool{}
	for _, l := range lines {
		for k := range l.Metrics {
			metrics[k] = true
		}
		for k := range l.Params {
			params[k] = true
		}
	}
	check := func(flag, name string, metricOnly bool) error {
		if metrics[name] || (!metricOnly && params[name]) {
			return nil
		}
		known := "metrics: " + joinKeys(metrics)
		if !metricOnly {
			known += "; params: " + joinKeys(params)
		}
		return fmt.Errorf("invalid %s %q: no run has it (%s)", flag, name, known)
	}
	if sortKey != "" {
		if err := check("--sort", strings.TrimPrefix(sortKey, "-"), true); err != nil {
			return err
		}
	}
	for _, f := range filters {
		if err := check("--filter", f.key, false); err != nil {
			return err
		}
	}
	return nil
}

func joinKeys(m map[string]bool) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

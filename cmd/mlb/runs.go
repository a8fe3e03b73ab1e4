package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type runsOptions struct {
	json  bool
	limit int
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
	Metrics  map[string]float64 `json:"metrics"`
}

func newRunsCmd(g *globalOptions) *cobra.Command {
	o := &runsOptions{}
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List past builds with their stages and metrics, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := engine.FindRoot(g.dir)
			if err != nil {
				return err
			}
			ws, err := engine.OpenWorkspace(root, g.cacheDir)
			if err != nil {
				return err
			}
			defer ws.Close()
			runs, err := engine.ListRuns(ws.Store)
			if err != nil {
				return err
			}
			if o.limit > 0 && len(runs) > o.limit {
				runs = runs[:o.limit]
			}
			lines := make([]runLine, 0, len(runs))
			for _, r := range runs {
				l := runLine{Hash: r.Hash, Started: r.Started.Format("2006-01-02T15:04:05Z"), Status: r.Status, Metrics: r.Metrics}
				l.Executed, l.Restored, l.UpToDate, l.Failed = r.Counts()
				if l.Metrics == nil {
					l.Metrics = map[string]float64{}
				}
				lines = append(lines, l)
			}
			if o.json {
				return writeJSON(g.stdout, lines)
			}
			printRuns(g.stdout, lines)
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the runs as JSON")
	cmd.Flags().IntVar(&o.limit, "limit", 0, "list at most this many runs (0: all)")
	return cmd
}

func printRuns(w io.Writer, lines []runLine) {
	if len(lines) == 0 {
		fmt.Fprintln(w, "no runs yet: run mlb build")
		return
	}
	fmt.Fprintf(w, "%-12s  %-20s  %-9s  %4s  %4s  %4s  %s\n", "RUN", "STARTED", "STATUS", "EXEC", "REST", "KEPT", "METRICS")
	for _, l := range lines {
		fmt.Fprintf(w, "%-12s  %-20s  %-9s  %4d  %4d  %4d  %s\n", l.Hash[:12], l.Started, l.Status, l.Executed, l.Restored, l.UpToDate, formatMetrics(l.Metrics))
	}
}

func sortStrings(s []string) { sort.Strings(s) }

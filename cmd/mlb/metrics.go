package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

type metricsOptions struct{ json bool }

func newMetricsCmd(g *globalOptions) *cobra.Command {
	o := &metricsOptions{}
	cmd := &cobra.Command{
		Use:   "metrics [RUN]",
		Short: "Print a run's metrics (default: the newest run)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, rec, err := openRun(g, firstArg(args), false)
			if err != nil {
				return err
			}
			defer ws.Close()
			m := rec.Metrics
			if m == nil {
				m = map[string]float64{}
			}
			if o.json {
				return writeJSON(g.stdout, m)
			}
			if len(m) == 0 {
				fmt.Fprintf(g.stdout, "run %s recorded no metrics\n", rec.Hash[:12])
				return nil
			}
			for _, k := range sortedNames(m) {
				fmt.Fprintf(g.stdout, "%s\t%s\n", k, formatNumber(m[k]))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the metrics as a JSON object")
	return cmd
}

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type showOptions struct{ json bool }

func newShowCmd(g *globalOptions) *cobra.Command {
	o := &showOptions{}
	cmd := &cobra.Command{
		Use:   "show [RUN]",
		Short: "Show everything recorded for a run (default: the newest)",
		Long: `Show prints a run's record: its params, git commit and dirty flag, host,
start and end time, and per stage its key, whether it was executed, restored
or kept, its duration, exit status, outputs with digests and sizes, and
metrics. RUN is a run hash or a unique prefix of at least 4 characters.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, rec, err := openRun(g, firstArg(args), false)
			if err != nil {
				return err
			}
			defer ws.Close()
			if o.json {
				return writeJSON(g.stdout, rec)
			}
			printRun(g.stdout, rec)
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the run record as JSON")
	return cmd
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func printRun(w io.Writer, r *engine.RunRecord) {
	fmt.Fprintf(w, "run      %s\n", r.Hash)
	fmt.Fprintf(w, "status   %s\n", r.Status)
	fmt.Fprintf(w, "started  %s\n", r.Started.Format("2006-01-02 15:04:05.000 MST"))
	fmt.Fprintf(w, "finished %s (%s)\n", r.Finished.Format("2006-01-02 15:04:05.000 MST"), formatDuration(r.Finished.Sub(r.Started)))
	fmt.Fprintf(w, "host     %s\n", r.Host)
	if r.Git != nil {
		dirty := ""
		if r.Git.Dirty {
			dirty = " (dirty)"
		}
		fmt.Fprintf(w, "git      %s%s\n", r.Git.Commit, dirty)
	} else {
		fmt.Fprintf(w, "git      none\n")
	}
	fmt.Fprintf(w, "pipeline %s\n", r.Pipeline)
	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "targets  %s\n", strings.Join(r.Targets, " "))
	}
	params := flattenParams(r.Params)
	fmt.Fprintf(w, "params\n")
	for _, k := range sortedNames(params) {
		fmt.Fprintf(w, "  %s = %s\n", k, params[k])
	}
	if len(r.Metrics) > 0 {
		fmt.Fprintf(w, "metrics\n")
		for _, k := range sortedNames(r.Metrics) {
			fmt.Fprintf(w, "  %s = %s\n", k, formatNumber(r.Metrics[k]))
		}
	}
	fmt.Fprintf(w, "stages\n")
	for _, s := range r.Stages {
		fmt.Fprintf(w, "  %s: %s", s.Name, s.State)
		switch s.State {
		case engine.StateExecuted, engine.StateFailed:
			fmt.Fprintf(w, " in %s, exit status %d", formatDuration(s.Duration), s.ExitCode)
		case engine.StateRestored, engine.StateUpToDate:
			fmt.Fprintf(w, " in %s", formatDuration(s.Duration))
		}
		fmt.Fprintln(w)
		if s.Key != [32]byte{} {
			fmt.Fprintf(w, "    key     %s\n", s.Key)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "    error   %s\n", s.Error)
		}
		for _, o := range s.Outputs {
			fmt.Fprintf(w, "    output  %s  %s  %s  %s\n", o.Path, o.Digest.String()[:16], formatBytes(o.Size), o.Perm)
		}
		for _, k := range sortedNames(s.Metrics) {
			fmt.Fprintf(w, "    metric  %s = %s\n", k, formatNumber(s.Metrics[k]))
		}
		if !s.Log.IsZero() {
			fmt.Fprintf(w, "    log     %s\n", s.Log.String()[:16])
		}
	}
	if len(r.Sources) > 0 {
		fmt.Fprintf(w, "sources\n")
		for _, s := range r.Sources {
			fmt.Fprintf(w, "  %s  %s  %s\n", s.Path, s.Digest.String()[:16], formatBytes(s.Size))
		}
	}
}

func formatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type buildOptions struct {
	params    paramOptions
	jobs      int
	force     bool
	keepGoing bool
	dryRun    bool
	progress  string
	remote    buildRemoteOptions
}

func newBuildCmd(g *globalOptions) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build [STAGE...]",
		Short: "Run the stages that changed and restore the rest from the cache",
		Long: `Build brings the named stages, and every stage they depend on, up to date;
with no names it builds every stage. A stage runs when its key (command,
referenced params, env, declared outputs and input contents) has no result in
the cache; otherwise its outputs are kept or restored from the cache.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, g, o, args)
		},
	}
	o.params.addFlags(cmd.Flags())
	f := cmd.Flags()
	f.IntVarP(&o.jobs, "jobs", "j", 0, "stages to run at once (default: number of CPUs)")
	f.BoolVar(&o.force, "force", false, "run every selected stage even when its result is cached")
	f.BoolVarP(&o.keepGoing, "keep-going", "k", false, "after a stage fails, go on with stages that do not depend on it")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "print what would run and why, and change nothing")
	f.StringVar(&o.progress, "progress", "auto", "progress display: auto, tty or plain")
	o.remote.addFlags(f)
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if o.jobs < 0 {
			return &usageError{fmt.Errorf("invalid -j %d: give a positive number of stages, or 0 for one per CPU", o.jobs)}
		}
		return o.remote.checkFlag(cmd.Flags())
	}
	return cmd
}

func runBuild(cmd *cobra.Command, g *globalOptions, o *buildOptions, targets []string) error {
	switch o.progress {
	case "auto", "tty", "plain":
	default:
		return &usageError{fmt.Errorf("invalid --progress %q: use auto, tty or plain", o.progress)}
	}
	syncMode, err := engine.ParseSyncMode(os.Getenv(engine.SyncEnv))
	if err != nil {
		return &usageError{err}
	}
	l, err := loadPipeline(g, &o.params)
	if err != nil {
		return err
	}
	defer l.ws.Close()
	if err := l.ws.Lock(); err != nil {
		return err
	}
	if o.dryRun {
		plans, err := l.ws.Plan(l.graph, targets, o.force)
		if err != nil {
			return err
		}
		printPlans(g.stdout, plans)
		return nil
	}

	selected, err := l.graph.Select(targets)
	if err != nil {
		return &usageError{err}
	}
	rs, err := o.remote.session(cmd.Context(), cmd.Flags(), l.graph.Pipeline, g.stderr)
	if err != nil {
		return err
	}
	defer rs.Close()
	ev := newProgress(g.stdout, o.progress, selected)
	if rs != nil {
		ev.setStatus(func() string { return transferLine(rs) })
	}
	rec, err := l.ws.Build(cmd.Context(), l.graph, engine.BuildOptions{
		Targets:   targets,
		Jobs:      o.jobs,
		Force:     o.force,
		KeepGoing: o.keepGoing,
		Env:       os.Environ(),
		Events:    ev,
		Remote:    rs,
		Sync:      syncMode,
	})
	ev.Close()
	if rec != nil {
		printSummary(g.stdout, rec)
		printRemoteSummary(g.stdout, rs)
		printFailures(g.stderr, rec)
	}
	var be *engine.BuildError
	if errors.As(err, &be) {
		return &reportedError{err}
	}
	return err
}

func printSummary(w io.Writer, rec *engine.RunRecord) {
	executed, restored, upToDate, failed := rec.Counts()
	fmt.Fprintf(w, "run %s: %d executed, %d restored, %d up to date", rec.Hash[:12], executed, restored, upToDate)
	if failed > 0 {
		fmt.Fprintf(w, ", %d failed", failed)
	}
	fmt.Fprintf(w, " in %s", formatDuration(rec.Finished.Sub(rec.Started)))
	if rec.Repeats != "" {
		fmt.Fprint(w, " (nothing changed since the last run)")
	}
	fmt.Fprintln(w)
	if len(rec.Metrics) > 0 {
		fmt.Fprintf(w, "metrics: %s\n", formatMetrics(rec.Metrics))
	}
}

func printFailures(w io.Writer, rec *engine.RunRecord) {
	for _, s := range rec.Stages {
		switch s.State {
		case engine.StateFailed:
			fmt.Fprintf(w, "mlb: %s\n", s.Error)
			if len(s.LogTail) > 0 {
				fmt.Fprintf(w, "--- last %d lines of the log of %s ---\n", len(s.LogTail), s.Name)
				for _, l := range s.LogTail {
					fmt.Fprintf(w, "    %s\n", l)
				}
			}
		case engine.StateSkipped:
			fmt.Fprintf(w, "mlb: stage %s: %s\n", s.Name, s.Error)
		case engine.StateNotRun:
			msg := "not run because the build stopped after a failure (use --keep-going to build independent stages)"
			if s.Error != "" {
				msg = s.Error
			}
			fmt.Fprintf(w, "mlb: stage %s: %s\n", s.Name, msg)
		}
	}
}

func printPlans(w io.Writer, plans []*engine.StagePlan) {
	for _, p := range plans {
		if len(p.Reasons) == 0 {
			fmt.Fprintf(w, "%-10s %s\n", p.Action, p.Name)
			continue
		}
		fmt.Fprintf(w, "%-10s %s: %s\n", p.Action, p.Name, strings.Join(p.Reasons, "; "))
	}
}

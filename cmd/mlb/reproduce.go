package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type reproduceOptions struct {
	into   string
	verify bool
	jobs   int
	json   bool
}

func newReproduceCmd(g *globalOptions) *cobra.Command {
	o := &reproduceOptions{}
	cmd := &cobra.Command{
		Use:   "reproduce RUN",
		Short: "Rebuild a past run from its hash and check its outputs",
		Long: `Reproduce recovers the pipeline source, params and source inputs recorded
for RUN (a hash or a unique prefix) from the cache, builds it in a scratch
folder, running only the stages whose results are not cached, and puts its
outputs into the workspace, or into --into DIR together with the pipeline
file and sources. It then compares every output with the recorded digest.
Edits to the workspace's own mlb.hcl or scripts do not matter, and a fresh
clone works as long as it shares the cache.

With --verify every stage of the run is executed again, each on the
recorded outputs of the stages before it, and a stage whose outputs differ
from the record is reported as non-deterministic. The exit status is 1
when any output differs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			syncMode, err := engine.ParseSyncMode(os.Getenv(engine.SyncEnv))
			if err != nil {
				return &usageError{err}
			}
			if o.verify && o.into != "" {
				// --verify runs in a scratch folder and keeps no outputs.
				return &usageError{fmt.Errorf("--into %s cannot go with --verify, which keeps no outputs: drop one of them", o.into)}
			}
			ws, rec, err := openRun(g, args[0], true)
			if err != nil {
				return err
			}
			defer ws.Close()
			ropts := engine.ReproduceOptions{Jobs: o.jobs, Env: os.Environ(), Sync: syncMode}
			if o.into != "" {
				if ropts.Into, err = filepath.Abs(o.into); err != nil {
					return err
				}
			}
			if o.verify {
				return runVerify(cmd, g, o, ws, rec, ropts)
			}
			ev := newProgress(g.stderr, "auto", nil)
			ropts.Events = ev
			res, err := ws.Reproduce(cmd.Context(), rec, ropts)
			ev.Close()
			if err != nil {
				return err
			}
			if o.json {
				if err := writeJSON(g.stdout, res); err != nil {
					return err
				}
			} else {
				printReproduction(g, res)
			}
			if bad := res.Mismatches(); len(bad) > 0 {
				return &reportedError{fmt.Errorf("%d outputs differ", len(bad))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.into, "into", "", "materialize the run into this folder instead of the workspace")
	f.BoolVar(&o.verify, "verify", false, "execute every stage again and report the ones whose outputs differ")
	f.IntVarP(&o.jobs, "jobs", "j", 0, "stages to run at once (default: number of CPUs)")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

func printReproduction(g *globalOptions, res *engine.Reproduction) {
	w := g.stdout
	dest := "the workspace"
	if res.Into != "" {
		dest = res.Into
	}
	fmt.Fprintf(w, "reproduced run %s into %s: %s executed", res.Run.Hash[:12], dest, plural(len(res.Executed), "stage"))
	for i, s := range res.Executed {
		if i == 0 {
			fmt.Fprint(w, " (")
		} else {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprint(w, s)
		if i == len(res.Executed)-1 {
			fmt.Fprint(w, ")")
		}
	}
	fmt.Fprintln(w)
	for _, d := range res.KeyDiffs {
		fmt.Fprintf(w, "key differs: %s\n", d)
	}
	if res.Into != "" {
		fmt.Fprintf(w, "the run's params are in %s: build there again with mlb build --params-file %s\n", engine.RunParamsFile, engine.RunParamsFile)
	}
	bad := res.Mismatches()
	if len(bad) == 0 {
		fmt.Fprintf(w, "all %d outputs match the recorded digests\n", len(res.Checks))
		return
	}
	for _, c := range bad {
		fmt.Fprintf(g.stderr, "mismatch: %s (stage %s): recorded %s, got %s\n", c.Path, c.Stage, c.Recorded.String()[:16], c.Got.String()[:16])
	}
}

func runVerify(cmd *cobra.Command, g *globalOptions, o *reproduceOptions, ws *engine.Workspace, rec *engine.RunRecord, ropts engine.ReproduceOptions) error {
	ev := newProgress(g.stderr, "auto", nil)
	ropts.Events = ev
	verdicts, err := ws.Verify(cmd.Context(), rec, ropts)
	ev.Close()
	if err != nil {
		return err
	}
	if o.json {
		if err := writeJSON(g.stdout, verdicts); err != nil {
			return err
		}
	}
	bad := 0
	for _, v := range verdicts {
		if v.Status != "deterministic" {
			bad++
		}
		if o.json {
			continue
		}
		fmt.Fprintf(g.stdout, "%-18s %s\n", v.Status, v.Stage)
		for _, d := range v.Differing {
			fmt.Fprintf(g.stdout, "    %s: recorded %s, got %s\n", d.Path, d.Recorded.String()[:16], d.Got.String()[:16])
		}
		if v.Error != "" {
			fmt.Fprintf(g.stdout, "    %s\n", v.Error)
		}
	}
	if bad > 0 {
		return &reportedError{errors.New("verification found differences")}
	}
	if !o.json {
		fmt.Fprintf(g.stdout, "run %s verified: every stage reproduced its recorded outputs\n", rec.Hash[:12])
	}
	return nil
}

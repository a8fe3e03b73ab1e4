package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type statusOptions struct {
	params paramOptions
	json   bool
	all    bool
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status [STAGE...]",
		Short: "Show which stages a build would run or restore, and why",
		Long: `Status computes every selected stage's key without running anything and
prints each stage a build would run or restore, with the reason: an input,
param, env or command that changed since the stage was last built, an output
that is missing, or a stage never built. Stages already up to date are listed
with --all.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadPipeline(g, &o.params)
			if err != nil {
				return err
			}
			defer l.ws.Close()
			plans, err := l.ws.Plan(l.graph, args, false)
			if err != nil {
				return &usageError{err}
			}
			if o.json {
				return writeJSON(g.stdout, plans)
			}
			printStatus(g.stdout, plans, o.all)
			return nil
		},
	}
	o.params.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&o.json, "json", false, "print every stage's plan as JSON")
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "also list stages that are up to date")
	return cmd
}

func printStatus(w io.Writer, plans []*engine.StagePlan, all bool) {
	pending := 0
	for _, p := range plans {
		if p.Action == engine.ActionUpToDate {
			if all {
				fmt.Fprintf(w, "%-10s %s\n", p.Action, p.Name)
			}
			continue
		}
		pending++
		fmt.Fprintf(w, "%-10s %s\n", p.Action, p.Name)
		for _, r := range p.Reasons {
			fmt.Fprintf(w, "           - %s\n", r)
		}
	}
	if pending == 0 {
		if len(plans) == 1 {
			fmt.Fprintln(w, "the stage is up to date")
		} else {
			fmt.Fprintf(w, "all %d stages up to date\n", len(plans))
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

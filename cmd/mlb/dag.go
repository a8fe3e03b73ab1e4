package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type dagOptions struct {
	params paramOptions
	dot    bool
	json   bool
}

type dagStage struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	DependsOn   []string          `json:"depends_on"`
	Inputs      map[string]string `json:"inputs"`
	Outputs     map[string]string `json:"outputs"`
	Params      []string          `json:"params"`
}

func newDagCmd(g *globalOptions) *cobra.Command {
	o := &dagOptions{}
	cmd := &cobra.Command{
		Use:   "dag [STAGE...]",
		Short: "Print the stage graph as text, Graphviz DOT or JSON",
		Long: `Dag prints the selected stages, and the stages they depend on, in an order
where each stage follows its dependencies. With --dot the graph is Graphviz
input: mlb dag --dot | dot -Tsvg > dag.svg.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadPipeline(g, &o.params)
			if err != nil {
				return err
			}
			defer l.ws.Close()
			stages, err := l.graph.Select(args)
			if err != nil {
				return &usageError{err}
			}
			switch {
			case o.json:
				return writeJSON(g.stdout, dagJSON(stages))
			case o.dot:
				printDot(g.stdout, stages)
			default:
				printDag(g.stdout, stages)
			}
			return nil
		},
	}
	o.params.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&o.dot, "dot", false, "print Graphviz DOT")
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	cmd.MarkFlagsMutuallyExclusive("dot", "json")
	return cmd
}

func dagJSON(stages []*engine.Stage) []dagStage {
	out := []dagStage{}
	for _, s := range stages {
		d := dagStage{Name: s.Name, Description: s.Description, DependsOn: append([]string{}, s.Deps...),
			Inputs: map[string]string{}, Outputs: map[string]string{}, Params: []string{}}
		for _, in := range s.Inputs {
			d.Inputs[in.Name] = in.Path
		}
		for _, o := range s.Outputs {
			d.Outputs[o.Name] = o.Path
		}
		for p := range s.Params {
			d.Params = append(d.Params, p)
		}
		sort.Strings(d.Params)
		out = append(out, d)
	}
	return out
}

func printDag(w io.Writer, stages []*engine.Stage) {
	for _, s := range stages {
		line := s.Name
		if len(s.Deps) > 0 {
			line += " <- " + strings.Join(s.Deps, ", ")
		}
		fmt.Fprintln(w, line)
		if s.Description != "" {
			fmt.Fprintf(w, "    %s\n", s.Description)
		}
	}
}

func printDot(w io.Writer, stages []*engine.Stage) {
	fmt.Fprintln(w, "digraph mlb {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, "  node [shape=box];")
	for _, s := range stages {
		fmt.Fprintf(w, "  %s;\n", strconv.Quote(s.Name))
	}
	for _, s := range stages {
		for _, d := range s.Deps {
			fmt.Fprintf(w, "  %s -> %s;\n", strconv.Quote(d), strconv.Quote(s.Name))
		}
	}
	fmt.Fprintln(w, "}")
}

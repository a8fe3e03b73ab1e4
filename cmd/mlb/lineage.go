package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type lineageOptions struct {
	json bool
	dot  bool
}

func newLineageCmd(g *globalOptions) *cobra.Command {
	o := &lineageOptions{}
	cmd := &cobra.Command{
		Use:   "lineage PATH|DIGEST",
		Short: "Trace an output back to the stages, params and source inputs that made it",
		Long: `Lineage finds the newest run that produced PATH (with its current contents) or
a blob DIGEST (a unique prefix of at least 6 characters), and prints the
stage that made it, that stage's params and inputs with their digests, and
so on back to the source inputs, as a tree, --json or Graphviz --dot.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := openWorkspace(g)
			if err != nil {
				return err
			}
			defer ws.Close()
			target := args[0]
			if g.dir != "." && !strings.HasPrefix(target, "/") && !isHexDigest(target) {
				target = g.dir + "/" + target
			}
			l, err := ws.FindLineage(target)
			if err != nil {
				return err
			}
			switch {
			case o.json:
				return writeJSON(g.stdout, l)
			case o.dot:
				printLineageDot(g.stdout, l)
			default:
				fmt.Fprintf(g.stdout, "run %s\n", l.Run)
				printLineageNode(g.stdout, l.Root, "", "")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the lineage as JSON")
	cmd.Flags().BoolVar(&o.dot, "dot", false, "print the lineage as Graphviz DOT")
	cmd.MarkFlagsMutuallyExclusive("json", "dot")
	return cmd
}

func isHexDigest(s string) bool {
	if len(s) < 6 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func printLineageNode(w io.Writer, n *engine.LineageNode, first, rest string) {
	line := fmt.Sprintf("%s%s  %s", first, n.Path, n.Digest.String()[:16])
	switch {
	case n.Stage != "":
		line += fmt.Sprintf("  <- stage %s", n.Stage)
		if len(n.Params) > 0 {
			line += "  params: " + formatParams(n.Params)
		}
	case len(n.Inputs) == 0:
		line += "  (source)"
	}
	fmt.Fprintln(w, line)
	for i, c := range n.Inputs {
		if i == len(n.Inputs)-1 {
			printLineageNode(w, c, rest+"└── ", rest+"    ")
		} else {
			printLineageNode(w, c, rest+"├── ", rest+"│   ")
		}
	}
}

func printLineageDot(w io.Writer, l *engine.Lineage) {
	fmt.Fprintln(w, "digraph lineage {")
	fmt.Fprintln(w, "  rankdir=RL;")
	// A path reached twice, such as features read by both train and
	// evaluate, is one node whose edges are written once.
	seen := map[string]bool{}
	var walk func(n *engine.LineageNode)
	walk = func(n *engine.LineageNode) {
		if seen[n.Path] {
			return
		}
		seen[n.Path] = true
		id := strconv.Quote(n.Path)
		label := n.Path + "\\n" + n.Digest.String()[:12]
		shape := "note"
		if n.Stage != "" {
			label += "\\nstage " + n.Stage
			shape = "box"
		}
		fmt.Fprintf(w, "  %s [shape=%s, label=\"%s\"];\n", id, shape, strings.ReplaceAll(label, `"`, `\"`))
		for _, c := range n.Inputs {
			fmt.Fprintf(w, "  %s -> %s;\n", id, strconv.Quote(c.Path))
			walk(c)
		}
	}
	walk(l.Root)
	fmt.Fprintln(w, "}")
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/cache"
)

type debugHashOptions struct {
	jobs int
}

// newDebugCmd returns the hidden debug command group: internal entry points
// for benchmarks and for checking mlb against other tools, with no promise
// of a stable interface.
func newDebugCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "debug",
		Short:  "Internal commands for benchmarks and diagnosis",
		Hidden: true,
	}
	cmd.AddCommand(newDebugHashCmd(g))
	return cmd
}

func newDebugHashCmd(g *globalOptions) *cobra.Command {
	o := &debugHashOptions{}
	cmd := &cobra.Command{
		Use:   "hash FILE...",
		Short: "Print the BLAKE3 digest of each file as mlb computes it",
		Long: `Hash prints one line per file, "DIGEST  PATH" as b3sum prints it, hashing
the files with the code that hashes stage inputs and outputs, several at
once. It reads no workspace and uses no file index.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDebugHash(g, o, args)
		},
	}
	cmd.Flags().IntVarP(&o.jobs, "jobs", "j", 0, "files to hash at once (default: number of CPUs)")
	return cmd
}

func runDebugHash(g *globalOptions, o *debugHashOptions, paths []string) error {
	var failed error
	for _, r := range cache.HashFiles(paths, o.jobs) {
		if r.Err != nil {
			fmt.Fprintf(g.stderr, "mlb: %v\n", r.Err)
			failed = &reportedError{r.Err}
			continue
		}
		fmt.Fprintf(g.stdout, "%s  %s\n", r.Digest, r.Path)
	}
	return failed
}

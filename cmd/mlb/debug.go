package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

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
	cmd.AddCommand(newDebugHashCmd(g), newDebugProfileCmd(g))
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

type debugProfileOptions struct {
	heapProfile string
}

func newDebugProfileCmd(g *globalOptions) *cobra.Command {
	o := &debugProfileOptions{}
	cmd := &cobra.Command{
		Use:   "profile FILE -- COMMAND [ARG...]",
		Short: "Run an mlb command while writing a CPU profile to FILE",
		Long: `Profile runs the mlb command after "--" in this process with Go's CPU
profiler on, and writes the profile to FILE for go tool pprof. The profiler
samples 100 times a second, so a command of a few milliseconds needs many
profiles merged: go tool pprof accepts several files.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDebugProfile(cmd, g, o, args[0], args[1:])
		},
	}
	cmd.Flags().StringVar(&o.heapProfile, "heap-profile", "", "also write a heap profile, taken after the command, to this file")
	return cmd
}

func runDebugProfile(cmd *cobra.Command, g *globalOptions, o *debugProfileOptions, path string, args []string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create CPU profile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("start CPU profile: %w", err)
	}
	inner := newRootCmd(&globalOptions{stdout: g.stdout, stderr: g.stderr})
	inner.SetArgs(args)
	runErr := inner.ExecuteContext(cmd.Context())
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		return fmt.Errorf("write CPU profile: %w", err)
	}
	if o.heapProfile != "" {
		if err := writeHeapProfile(o.heapProfile); err != nil {
			return err
		}
	}
	return runErr
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("write heap profile: %w", err)
	}
	return f.Close()
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every command takes.
type globalOptions struct {
	dir      string // folder the workspace search starts from
	cacheDir string // cache folder; empty means the workspace's .mlb/cache
	debug    bool
	stdout   io.Writer
	stderr   io.Writer
}

func newRootCmd(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "mlb",
		Short: "Build machine-learning pipelines, re-running only what changed",
		Long: `mlb runs the stages of a pipeline declared in mlb.hcl. It hashes each
stage's inputs, params and command, runs only the stages whose hash changed,
restores the others from a content-addressed cache, and records every run.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			if g.debug || os.Getenv("MLB_DEBUG") != "" {
				slog.SetDefault(slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
			} else {
				slog.SetDefault(slog.New(newWarningHandler(g.stderr)))
			}
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	f := root.PersistentFlags()
	f.StringVarP(&g.dir, "dir", "C", ".", "run as if mlb was started in this folder")
	f.StringVar(&g.cacheDir, "cache-dir", os.Getenv("MLB_CACHE_DIR"), "cache folder (default: .mlb/cache in the workspace, or $MLB_CACHE_DIR)")
	f.BoolVar(&g.debug, "debug", false, "log debug traces to stderr (or set MLB_DEBUG=1)")

	root.AddCommand(
		newBuildCmd(g),
		newStatusCmd(g),
		newDagCmd(g),
		newRunsCmd(g),
		newPushCmd(g),
		newPullCmd(g),
		newShowCmd(g),
		newDiffCmd(g),
		newMetricsCmd(g),
		newLineageCmd(g),
		newReproduceCmd(g),
		newCheckoutCmd(g),
		newGCCmd(g),
		newFsckCmd(g),
		newDebugCmd(g),
	)
	return root
}

// run executes the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)

	// Ctrl-C cancels the context: running stages get SIGTERM and the
	// build records what finished. A second one exits at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go exitOnSecondInterrupt(ctx, finished, stderr)
	err := root.ExecuteContext(ctx)
	return exitCode(err, stderr)
}

// exitOnSecondInterrupt exits the process when a second Ctrl-C or SIGTERM
// comes after the one that cancelled ctx, before the command finished.
// Work that does not watch the context, such as hashing a large input,
// could otherwise hold the command for minutes. Exiting is as safe as
// kill -9: every cache entry and state file is written to a temp file and
// renamed, stages die with mlb, and the next build stops what they left.
func exitOnSecondInterrupt(ctx context.Context, finished <-chan struct{}, stderr io.Writer) {
	select {
	case <-ctx.Done():
	case <-finished:
		return
	}
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	select {
	case <-again:
		fmt.Fprintln(stderr, "mlb: interrupted again, exiting now")
		os.Exit(130)
	case <-finished:
	}
}

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type pullOptions struct {
	remote remoteOptions
}

func newPullCmd(g *globalOptions) *cobra.Command {
	o := &pullOptions{}
	cmd := &cobra.Command{
		Use:   "pull RUN",
		Short: "Download a run's record and results from the remote cache",
		Long: `Pull downloads a run, named by a prefix of its hash, from the remote cache
into the local cache: the outputs and logs of every stage that succeeded, the
pipeline file and source inputs, and the run record. Every blob is checked
against its digest before it is stored. The workspace is not changed: build or
check out the run to put its outputs in place.

List the runs in the remote with mlb runs --remote.`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return o.remote.checkFlag(cmd.Flags())
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPull(cmd, g, o, args[0])
		},
	}
	o.remote.addFlags(cmd.Flags())
	return cmd
}

func runPull(cmd *cobra.Command, g *globalOptions, o *pullOptions, prefix string) error {
	syncMode, err := engine.ParseSyncMode(os.Getenv(engine.SyncEnv))
	if err != nil {
		return &usageError{err}
	}
	ws, err := openWorkspace(g)
	if err != nil {
		return err
	}
	defer ws.Close()
	lock, err := ws.Store.LockShared()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	r, err := o.remote.openRequired(cmd.Context(), cmd.Flags(), ws.Root)
	if err != nil {
		return err
	}
	defer r.Close()

	// A pull executes no stage, so only MLB_SYNC=always flushes what it
	// stored, and no entry is flushed on its own: a download is cheaper
	// to repeat than a wait for the disk.
	if syncMode != engine.SyncAlways {
		ws.Store.ExpectManyWrites()
	}
	rec, report, err := ws.PullRun(cmd.Context(), r, prefix)
	for _, s := range report.Skipped {
		fmt.Fprintf(g.stderr, "mlb: warning: not pulled: %s\n", s)
	}
	if err != nil {
		return err
	}
	if syncMode == engine.SyncAlways {
		if err := ws.Store.Sync(); err != nil {
			return err
		}
	}
	st := r.Stats()
	fmt.Fprintf(g.stdout, "pulled run %s from %s: %s; downloaded %s, %d bytes (%d compressed)\n",
		rec.Hash[:12], r, plural(report.Results, "stage result"), plural(int(st.DownloadedBlobs), "blob"), st.DownloadedBytes, st.ReceivedBytes)
	return nil
}

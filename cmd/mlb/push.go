package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

type pushOptions struct {
	remote remoteOptions
}

func newPushCmd(g *globalOptions) *cobra.Command {
	o := &pushOptions{}
	cmd := &cobra.Command{
		Use:   "push [RUN]",
		Short: "Upload a run's record and results to the remote cache",
		Long: `Push uploads a run, named by a prefix of its hash, or the newest run, to the
remote cache: the outputs and logs of every stage that succeeded, then the
pipeline file and source inputs, then the run record. A reader therefore never
finds a record or result whose files are missing. Only blobs the remote lacks
are sent.

A build with --remote uploads what it runs by itself; push is for runs built
without a remote. Stages whose results are not complete in the local cache
are skipped with a warning.`,
		Args: cobra.MaximumNArgs(1),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return o.remote.checkFlag(cmd.Flags())
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix := ""
			if len(args) == 1 {
				prefix = args[0]
			}
			return runPush(cmd, g, o, prefix)
		},
	}
	o.remote.addFlags(cmd.Flags())
	return cmd
}

func runPush(cmd *cobra.Command, g *globalOptions, o *pushOptions, prefix string) error {
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
	rec, err := latestOrFind(ws, prefix)
	if err != nil {
		return err
	}
	r, err := o.remote.openRequired(cmd.Context(), cmd.Flags(), ws.Root)
	if err != nil {
		return err
	}
	defer r.Close()

	report, err := ws.PushRun(cmd.Context(), r, rec)
	for _, s := range report.Skipped {
		fmt.Fprintf(g.stderr, "mlb: warning: not pushed: %s\n", s)
	}
	if err != nil {
		return err
	}
	st := r.Stats()
	fmt.Fprintf(g.stdout, "pushed run %s to %s: %s; uploaded %s, %d bytes (%d compressed)\n",
		rec.Hash[:12], r, plural(report.Results, "stage result"), plural(int(st.UploadedBlobs), "blob"), st.UploadedBytes, st.SentBytes)
	return nil
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCheckoutCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "checkout RUN",
		Short: "Put a run's outputs back into the workspace without running anything",
		Long: `Checkout restores every output recorded for RUN from the cache into the
workspace, verifying each blob. It writes nothing and names the missing
blobs when the cache lacks any of them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, rec, err := openRun(g, args[0], true)
			if err != nil {
				return err
			}
			defer ws.Close()
			written, err := ws.Checkout(rec)
			if err != nil {
				return err
			}
			for _, p := range written {
				fmt.Fprintf(g.stdout, "restored %s\n", p)
			}
			fmt.Fprintf(g.stdout, "checked out run %s: %s restored\n", rec.Hash[:12], plural(len(written), "output"))
			return nil
		},
	}
}

package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/engine"
)

type gcOptions struct {
	keepLast  int
	keepSince string
	keep      []string
	dryRun    bool
	json      bool
}

func newGCCmd(g *globalOptions) *cobra.Command {
	o := &gcOptions{}
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete cached results that the kept runs do not need",
		Long: `Gc keeps the runs selected by --keep-last, --keep-since and --keep, deletes
the other run records, and deletes every blob and action result that no kept
run needs. What a kept run needs (its pipeline source, source inputs,
outputs, logs and action results) is never deleted, so a kept run can still
be reproduced and checked out. Gc waits for no build: it refuses to start
while one uses the cache.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.keepLast < 0 {
				return &usageError{fmt.Errorf("invalid --keep-last %d: give a number of runs of at least 1", o.keepLast)}
			}
			if o.keepLast == 0 && o.keepSince == "" && len(o.keep) == 0 {
				return &usageError{errors.New("missing keep option: give --keep-last N, --keep-since DATE or --keep RUN to say which runs gc keeps")}
			}
			opts := engine.GCOptions{KeepLast: o.keepLast, Keep: o.keep, DryRun: o.dryRun}
			if o.keepSince != "" {
				t, err := parseDate(o.keepSince)
				if err != nil {
					return &usageError{err}
				}
				opts.KeepSince = t
			}
			ws, err := openWorkspace(g)
			if err != nil {
				return err
			}
			defer ws.Close()
			res, err := engine.GC(ws.Store, opts)
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(g.stdout, res)
			}
			verb := "deleted"
			if o.dryRun {
				verb = "would delete"
				for _, r := range res.Dropped {
					fmt.Fprintf(g.stdout, "would drop run %s\n", r[:12])
				}
			}
			fmt.Fprintf(g.stdout, "kept %d runs; %s %d runs, %d blobs (%s), %d action results, %d temp files\n",
				len(res.Kept), verb, len(res.Dropped), res.Blobs, formatBytes(res.BlobBytes), res.Actions, res.TempFiles)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.keepLast, "keep-last", 0, "keep the newest N runs")
	f.StringVar(&o.keepSince, "keep-since", "", "keep runs started on or after this date (2006-01-02 or RFC 3339)")
	f.StringArrayVar(&o.keep, "keep", nil, "keep this run, by hash or unique prefix (repeatable)")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "list what would be deleted and how many bytes, and delete nothing")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid --keep-since %q: use a date such as 2026-01-31 or an RFC 3339 time", s)
}

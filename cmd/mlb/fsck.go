package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlbuild/mlb/cache"
)

type fsckOptions struct {
	json bool
}

func newFsckCmd(g *globalOptions) *cobra.Command {
	o := &fsckOptions{}
	cmd := &cobra.Command{
		Use:   "fsck",
		Short: "Hash every blob in the cache and remove those that do not match",
		Long: `Fsck hashes every blob in the cache, loose and packed, and removes each one
whose contents do not hash to its name, and each pack whose index is
damaged, so that the next build stores them again: from the workspace when
it holds the same output or source, else by running the stage. It also
starts anew the list of large blobs that restores trust without hashing
them (see docs/cache.md), with the blobs it hashed. A blob it cannot read
is listed and the check goes on. Ctrl-C stops it between two blobs.

The exit status is 1 when anything was corrupt, could not be checked, or
the check was interrupted. Fsck refuses to start while a build uses the
cache.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := openWorkspace(g)
			if err != nil {
				return err
			}
			defer ws.Close()
			lock, err := ws.Store.LockExclusive()
			if err != nil {
				return fmt.Errorf("fsck: %w; try again when it finishes", err)
			}
			defer lock.Unlock()

			meter := startCheckMeter(g.stderr)
			st, checkErr := ws.Store.Check(cmd.Context(), meter.update)
			meter.stop()
			// What a check that stopped early removed is reported too.
			if o.json {
				if err := writeJSON(g.stdout, st); err != nil {
					return err
				}
			} else {
				printCheck(g.stdout, st)
			}
			switch {
			case checkErr != nil && cmd.Context().Err() != nil:
				return fmt.Errorf("fsck: interrupted after %d blobs; run it again to check the rest", st.Blobs)
			case checkErr != nil:
				return fmt.Errorf("fsck: %w", checkErr)
			case len(st.Failed) > 0:
				return fmt.Errorf("fsck: could not check or remove %s: see the lines above", plural(len(st.Failed), "entry"))
			case len(st.Corrupt) > 0 || len(st.BadPacks) > 0:
				return fmt.Errorf("fsck: removed %s and %s from the cache; the next build stores good copies", plural(len(st.Corrupt), "corrupt blob"), plural(len(st.BadPacks), "damaged pack"))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

func printCheck(w io.Writer, st cache.CheckStats) {
	for _, b := range st.Corrupt {
		if b.Pack != "" {
			fmt.Fprintf(w, "corrupt, removed: blob %s in pack %s\n", b.Digest, b.Pack)
		} else {
			fmt.Fprintf(w, "corrupt, removed: blob %s\n", b.Digest)
		}
	}
	for _, p := range st.BadPacks {
		fmt.Fprintf(w, "damaged index, removed: pack %s\n", p)
	}
	for _, f := range st.Failed {
		fmt.Fprintf(w, "failed: %s\n", f)
	}
	fmt.Fprintf(w, "checked %s (%s) in %s and the loose blob files: %d corrupt\n",
		plural(st.Blobs, "blob"), formatBytes(st.Bytes), plural(st.Packs, "pack"), len(st.Corrupt))
}

// checkMeter shows how far a cache check has come on a terminal, on one
// line redrawn every redrawEvery. Elsewhere it shows nothing.
type checkMeter struct {
	w                 io.Writer
	blobs, total      atomic.Int64
	bytes, totalBytes atomic.Int64
	done              chan struct{}
	stopped           sync.WaitGroup
	live              bool
}

func startCheckMeter(w io.Writer) *checkMeter {
	m := &checkMeter{w: w, done: make(chan struct{}), live: liveTerminal(w)}
	if m.live {
		m.stopped.Add(1)
		go m.tick()
	}
	return m
}

func (m *checkMeter) update(blobs, total int, bytes, totalBytes int64) {
	m.blobs.Store(int64(blobs))
	m.total.Store(int64(total))
	m.bytes.Store(bytes)
	m.totalBytes.Store(totalBytes)
}

func (m *checkMeter) tick() {
	defer m.stopped.Done()
	t := time.NewTicker(redrawEvery)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			fmt.Fprint(m.w, "\r\033[K")
			return
		case <-t.C:
			fmt.Fprintf(m.w, "\r\033[Kchecking the cache: %d of %d blobs, %s of %s",
				m.blobs.Load(), m.total.Load(), formatBytes(m.bytes.Load()), formatBytes(m.totalBytes.Load()))
		}
	}
}

func (m *checkMeter) stop() {
	close(m.done)
	m.stopped.Wait()
}

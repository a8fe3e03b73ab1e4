package engine

import (
	"fmt"
	"strings"

	"github.com/mlbuild/mlb/cache"
)

// Checkout puts the outputs of run rec into the workspace from the cache
// without running anything, and returns the paths it wrote. When any blob
// is missing it writes nothing and names them in the error.
func (w *Workspace) Checkout(rec *RunRecord) ([]string, error) {
	var outputs []cache.Output
	for _, s := range rec.Stages {
		outputs = append(outputs, s.Outputs...)
	}
	if missing := w.Store.MissingFor(outputs); len(missing) > 0 {
		var names []string
		for _, d := range missing {
			names = append(names, d.String())
		}
		return nil, fmt.Errorf("checkout %s: missing from the cache: %d of its blobs: %s; rebuild with mlb reproduce %s, or pull them from a remote",
			rec.Hash[:12], len(missing), strings.Join(names, ", "), rec.Hash[:12])
	}
	var written []string
	for _, o := range outputs {
		if w.Store.Matches(o, w.Abs(o.Path), w.Index) {
			continue
		}
		if err := w.Store.Restore(o, w.Abs(o.Path)); err != nil {
			return written, fmt.Errorf("checkout %s: %w", rec.Hash[:12], err)
		}
		written = append(written, o.Path)
	}
	return written, nil
}

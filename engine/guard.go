package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mlbuild/mlb/cache"
)

// InputChangedError reports an input that changed while its stage ran. The
// stage's outputs may come from either version, so nothing is cached.
type InputChangedError struct {
	Stage   string
	Changes []string
}

func (e *InputChangedError) Error() string {
	return fmt.Sprintf("stage %s: an input changed while the stage ran (%s), so its result is not cached; build again", e.Stage, strings.Join(e.Changes, "; "))
}

// checkInputsUnchanged recomputes s's key after it ran and fails when it
// differs from before, so an input edited mid-run, such as a script saved
// during a long training, never files a result under the old input's key.
func (w *Workspace) checkInputsUnchanged(s *Stage, before *KeyParts) error {
	after, err := w.keyParts(s)
	if err != nil {
		return fmt.Errorf("stage %s: check inputs after the run: %w", s.Name, err)
	}
	if before != nil && after.Key() != before.Key() {
		return &InputChangedError{Stage: s.Name, Changes: changedParts(before, after)}
	}
	return nil
}

// checkOutputPath fails when an output's folder leads out of the
// workspace through a symlink, where removing and writing the output would
// touch files that are not the workspace's.
func (w *Workspace) checkOutputPath(o PathRef) error {
	if w.plainFolders(o.Path) {
		return nil
	}
	root, err := filepath.EvalSymlinks(w.Root)
	if err != nil {
		return err
	}
	dir := filepath.Dir(w.Abs(o.Path))
	for {
		if _, err := os.Lstat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return fmt.Errorf("output %s (%s) lies in %s through a symlink, outside the workspace: replace the symlink by a folder or change the output path", o.Name, o.Path, real)
	}
	return nil
}

// plainFolders reports whether the folders that exist on the way from
// the workspace down to rel's folder are all real folders, not symlinks.
// The output then lies inside the workspace, whatever the workspace's own
// path resolves to, and checkOutputPath needs none of the dozen lstat
// calls that resolving both paths from / costs. It returns false, leaving
// the decision to the full check, for anything else.
func (w *Workspace) plainFolders(rel string) bool {
	if rel == "" || path.IsAbs(rel) || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
		return false
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		fi, err := os.Lstat(w.Abs(rel[:i]))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return true // the rest is created as plain folders
		case err != nil, fi.Mode()&fs.ModeSymlink != 0:
			return false
		}
	}
	return true
}

// keepForeignOutputs stores a copy of each existing output of a stage that
// was never built in this workspace, when the cache does not hold it
// already. mlb removes a stage's outputs before running it, and a path
// declared as an output by mistake may hold data that mlb did not make.
func (w *Workspace) keepForeignOutputs(s *Stage, last *KeyParts) {
	if last != nil {
		return
	}
	for _, o := range s.Outputs {
		abs := w.Abs(o.Path)
		if _, err := os.Lstat(abs); err != nil {
			continue
		}
		in, err := w.inputState(o.Path)
		if err == nil && w.Store.HasBlob(in.Digest) {
			continue
		}
		saved, err := w.Store.StoreOutput(o.Name, o.Path, abs, w.Index)
		if err != nil {
			slog.Warn("could not keep a copy of an existing output before running its stage", "stage", s.Name, "output", o.Path, "err", err)
			continue
		}
		where := w.Store.BlobPath(saved.Digest)
		if saved.Kind == cache.KindDir {
			where = "tree " + saved.Digest.String()
		}
		slog.Warn("an output existed before its stage was first built; a copy is in the cache", "stage", s.Name, "output", o.Path, "copy", where)
	}
}

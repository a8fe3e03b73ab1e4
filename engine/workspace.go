package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/mlbuild/mlb/cache"
	"github.com/mlbuild/mlb/stages"
)

// PipelineFile is the name of the file that marks a workspace.
const PipelineFile = "mlb.hcl"

// StateDir is the folder inside a workspace where mlb keeps its state, and
// by default its cache.
const StateDir = ".mlb"

// FindRoot returns the nearest folder at or above start that holds mlb.hcl.
func FindRoot(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, PipelineFile)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s found in %s or any parent folder: create one, or run mlb inside a workspace", PipelineFile, start)
		}
		dir = parent
	}
}

// Workspace is an open workspace: its root, its cache and its file index.
type Workspace struct {
	Root  string
	Store *cache.Store
	Index *cache.Index
	lock  *os.File
	store *cache.Lock // shared, so garbage collection waits for the build
	dir   *cache.Root // Root, open for statting inputs; nil when it cannot be

	groups groupFiles // records of the process groups of running stages

	// packing, during a build, packs the small source files that
	// inputState hashes, from the bytes it hashed.
	packing *earlySources
}

// OpenWorkspace opens the workspace at root and its cache, which lives in
// cacheDir or, when that is empty, in root/.mlb/cache.
func OpenWorkspace(root, cacheDir string) (*Workspace, error) {
	state := filepath.Join(root, StateDir)
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, fmt.Errorf("open workspace: %w", err)
	}

	// The state folder is local to this machine; keep it out of git.
	ignore := filepath.Join(state, ".gitignore")
	if _, err := os.Stat(ignore); err != nil {
		_ = os.WriteFile(ignore, []byte("*\n"), 0o644)
	}
	if cacheDir == "" {
		cacheDir = filepath.Join(state, "cache")
	}
	store, err := cache.OpenStore(cacheDir)
	if err != nil {
		return nil, err
	}
	w := &Workspace{
		Root:  root,
		Store: store,
		Index: cache.LoadIndex(filepath.Join(state, "index")),
	}
	if dir, err := cache.OpenRoot(root); err == nil {
		w.dir = dir
	}
	return w, nil
}

// ErrLocked is returned by Lock when another mlb holds the workspace.
var ErrLocked = errors.New("another mlb build is running in this workspace")

// Lock takes the workspace's build lock, so that one build at a time writes
// its outputs. The operating system releases it if mlb dies.
func (w *Workspace) Lock() error {
	path := filepath.Join(w.Root, StateDir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("lock workspace: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return fmt.Errorf("lock workspace: %w", err)
	}
	w.lock = f
	w.store, err = w.Store.LockShared()
	if err != nil {
		f.Close()
		w.lock = nil
		return err
	}

	// Holding the lock, any recorded process group is a leftover of a
	// build that was killed: stop it before it races this one.
	if n := stages.StopLeftovers(w.runningDir()); n > 0 {
		slog.Debug("stopped processes left by a killed build", "groups", n)
	}
	return os.MkdirAll(w.runningDir(), 0o755)
}

// runningDir holds a group file per running stage; see stages.StopLeftovers.
func (w *Workspace) runningDir() string {
	return filepath.Join(w.Root, StateDir, "running")
}

// Close saves the file index and releases the lock.
func (w *Workspace) Close() error {
	w.groups.removeAll()
	err := w.Index.Save()
	if w.dir != nil {
		w.dir.Close()
		w.dir = nil
	}
	if w.lock != nil {
		w.lock.Close()
		w.lock = nil
	}
	w.store.Unlock()
	return err
}

// Abs returns the absolute path of a workspace-relative path.
func (w *Workspace) Abs(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(w.Root, filepath.FromSlash(rel))
}

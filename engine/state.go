package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// lastBuilt maps each stage name to the key parts of its last successful
// build in this workspace. Status compares against it to say what changed.
type lastBuilt map[string]*KeyParts

func (w *Workspace) statePath() string {
	return filepath.Join(w.Root, StateDir, "last-built.json")
}

// loadLastBuilt reads the workspace's last-built state; a missing or
// unreadable file means nothing was built yet.
func (w *Workspace) loadLastBuilt() lastBuilt {
	data, err := os.ReadFile(w.statePath())
	if err != nil {
		return lastBuilt{}
	}
	var lb lastBuilt
	if json.Unmarshal(data, &lb) != nil || lb == nil {
		return lastBuilt{}
	}
	return lb
}

func encodeLastBuilt(lb lastBuilt) ([]byte, error) {
	data, err := json.Marshal(lb)
	if err != nil {
		return nil, fmt.Errorf("save build state: %w", err)
	}
	return data, nil
}

// lazyLastBuilt loads the last-built state on first use. A build whose
// stages all match their cached results never needs it, and decoding it
// costs a noticeable share of a no-op build of a large graph.
type lazyLastBuilt struct {
	once sync.Once
	w    *Workspace
	lb   lastBuilt
}

func (l *lazyLastBuilt) get() lastBuilt {
	l.once.Do(func() { l.lb = l.w.loadLastBuilt() })
	return l.lb
}

func (l *lazyLastBuilt) stage(name string) *KeyParts { return l.get()[name] }

// lastRunPath holds the name of the run record the last recorded build of
// this workspace wrote.
func (w *Workspace) lastRunPath() string {
	return filepath.Join(w.Root, StateDir, "last-run")
}

// lastRunFile returns the file name of the workspace's last recorded
// successful build when that run has this hash and its full record is
// still in the cache, else "".
func (w *Workspace) lastRunFile(hash string) string {
	data, err := os.ReadFile(w.lastRunPath())
	if err != nil {
		return ""
	}
	name := strings.TrimSpace(string(data))
	if !strings.HasSuffix(name, "-"+hash+runSuffix) {
		return ""
	}
	if _, err := os.Stat(filepath.Join(runsDir(w.Store), name)); err != nil {
		return ""
	}
	return name
}

func (w *Workspace) saveLastRun(rec *RunRecord) error {
	return writeState(w.lastRunPath(), []byte(runFileName(rec)+"\n"))
}

// writeState replaces a workspace state file through a rename, so a reader
// sees the old or the new contents.
func writeState(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("save build state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save build state: %w", err)
	}
	return nil
}

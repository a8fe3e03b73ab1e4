package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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

func (w *Workspace) saveLastBuilt(lb lastBuilt) error {
	data, err := json.Marshal(lb)
	if err != nil {
		return fmt.Errorf("save build state: %w", err)
	}
	tmp := w.statePath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("save build state: %w", err)
	}
	if err := os.Rename(tmp, w.statePath()); err != nil {
		return fmt.Errorf("save build state: %w", err)
	}
	return nil
}

package cache

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// epochFile names the store's removal epoch: a random value set when the
// store is created, and replaced before garbage collection removes
// anything and whenever a corrupt entry is removed. An entry a process
// saw in the store is still there as long as the epoch is unchanged,
// unless someone deleted it by hand: a store that was emptied or moved
// is a new store with a new epoch.
const epochFile = "gc-epoch"

// Epoch returns the store's removal epoch, "" when the store has none.
func (s *Store) Epoch() string {
	data, err := os.ReadFile(filepath.Join(s.root, epochFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// newEpoch replaces the removal epoch.
func (s *Store) newEpoch() error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	path := filepath.Join(s.root, epochFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(b[:])+"\n"), 0o644); err != nil {
		return fmt.Errorf("gc: write epoch: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("gc: write epoch: %w", err)
	}
	return nil
}

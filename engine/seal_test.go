package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// A state file with one byte changed reads as missing, so the build does
// the work again and gets the result it got before.
func TestStateFileFlippedByte(t *testing.T) {
	const pipeline = `
stage "a" {
  outputs = { o = "o.txt" }
  command = "echo good > o.txt"
}
`
	for _, file := range []string{compiledFile, memoFile, "last-built.bin", noopFile} {
		t.Run(file, func(t *testing.T) {
			root, settled := settledWorkspace(t, pipeline, nil)
			path := filepath.Join(root, StateDir, file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range data {
				flipped := append([]byte(nil), data...)
				flipped[i] ^= 0x20
				if err := os.WriteFile(path, flipped, 0o644); err != nil {
					t.Fatal(err)
				}
				rec := buildKeyed(t, root, nil, BuildOptions{})
				if rec.Hash != settled.Hash {
					t.Fatalf("byte %d of %s flipped: run %s, want %s", i, file, rec.Hash, settled.Hash)
				}
				if got, _ := os.ReadFile(filepath.Join(root, "o.txt")); string(got) != "good\n" {
					t.Fatalf("byte %d of %s flipped: o.txt holds %q", i, file, got)
				}
			}
		})
	}
}

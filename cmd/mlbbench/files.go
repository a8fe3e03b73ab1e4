//go:build linux

package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// writeRandomFile writes size pseudo-random bytes to path, synced to disk,
// so that dropping its pages from the page cache later leaves nothing
// dirty behind. The bytes come from ChaCha8 with a fixed seed: random
// enough that no tool can take a shortcut, and the same every run.
func writeRandomFile(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	src := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	w := bufio.NewWriterSize(f, 1<<20)
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		_, _ = src.Read(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// evictFromPageCache drops the cached pages of the file at path, so the
// next read comes from the disk. It writes back dirty pages first, because
// POSIX_FADV_DONTNEED skips them. Only this file is affected.
func evictFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("fdatasync %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("posix_fadvise %s: %w", path, err)
	}
	return nil
}

// writeManyFiles creates dirs folders under root holding perDir files each,
// of 1 to 10 KiB of pseudo-random bytes, and returns their total size.
func writeManyFiles(root string, dirs, perDir int) (int64, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 10<<10)
	var total int64
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%04d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
		for i := range perDir {
			n := 1<<10 + rng.IntN(9<<10+1)
			for j := 0; j < n; j += 8 {
				v := rng.Uint64()
				for k := 0; k < 8 && j+k < n; k++ {
					buf[j+k] = byte(v >> (8 * k))
				}
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.bin", i)), buf[:n], 0o644); err != nil {
				return 0, err
			}
			total += int64(n)
		}
	}
	return total, nil
}

//go:build !linux

package cache

import (
	"os"
	"path/filepath"
)

// dirHandle is a folder being scanned. Other systems than Linux look at
// its files by their full paths, through package os.
type dirHandle struct {
	path string
}

func openDir(path string) (dirHandle, error) { return dirHandle{path: path}, nil }

func (h dirHandle) close() {}

// readNames appends the names in the folder to names. It ignores buf.
func (h dirHandle) readNames(names []string, _ []byte) ([]string, error) {
	f, err := os.Open(h.path)
	if err != nil {
		return names, err
	}
	defer f.Close()
	more, err := f.Readdirnames(-1)
	return append(names, more...), err
}

// lstat returns the stat data of the file name in the folder. An error is
// returned bare, because the caller wraps it with the path as on Linux.
func (h dirHandle) lstat(name string) (scanStat, error) {
	return lstatPath(filepath.Join(h.path, name))
}

func (h dirHandle) readlink(name string) (string, error) {
	target, err := os.Readlink(filepath.Join(h.path, name))
	return target, bareError(err)
}

// hashSmall returns the digest of the file name in the folder. It ignores
// path and size.
func (h dirHandle) hashSmall(name, _ string, _ int64) (Digest, error) {
	d, _, err := HashFile(filepath.Join(h.path, name))
	return d, err
}

// lstatPath is os.Lstat of path, with the bare error.
func lstatPath(path string) (scanStat, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return scanStat{}, bareError(err)
	}
	return scanStat{mode: fi.Mode(), key: entryFor(fi, Digest{})}, nil
}

// bareError returns the error inside a *os.PathError, so that the caller
// can wrap it with its own operation and path.
func bareError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

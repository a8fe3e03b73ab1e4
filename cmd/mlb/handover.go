package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/mlbuild/mlb/cache/remote"
)

// mayHandOver is set by Main: a command run in-process, as the tests run
// them, must not replace the process.
var mayHandOver bool

// handOver replaces this process with the helper program that has the
// driver for a remote, run with the same arguments. It returns only when
// it cannot, with an error that explains how to build the helper.
func handOver(he *remote.HelperError) error {
	buildSteps := fmt.Sprintf("make build, or with go build -tags %s -o %s ./cmd/mlb, and put it beside mlb", remote.CloudBuildTag, he.Helper)
	path := findHelper(he.Helper)
	if path == "" {
		where := "on PATH"
		if exe, err := os.Executable(); err == nil {
			where = "in " + filepath.Dir(exe) + " or on PATH"
		}
		return fmt.Errorf("remote %s needs %s, and there is none %s: build it with %s", he.URL, he.Helper, where, buildSteps)
	}

	// A helper built without the tag would find itself and hand over to
	// itself again, for ever.
	if isSelf(path) {
		return fmt.Errorf("remote %s needs %s, but %s was built without the %s build tag: rebuild it with %s", he.URL, he.Helper, path, remote.CloudBuildTag, buildSteps)
	}
	if !mayHandOver {
		return fmt.Errorf("remote %s needs %s (found %s), which an in-process command cannot hand over to", he.URL, he.Helper, path)
	}
	err := syscall.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
	return fmt.Errorf("run %s for remote %s: %w", path, he.URL, err)
}

// findHelper returns the helper program beside this one, else on PATH,
// else "".
func findHelper(name string) string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// isSelf reports whether path is this program's own executable file.
func isSelf(path string) bool {
	exe, err := os.Executable()
	if err != nil {
		return false
	}
	a, errA := os.Stat(exe)
	b, errB := os.Stat(path)
	return errA == nil && errB == nil && os.SameFile(a, b)
}

//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// spawnArg, as the first argument, makes mlbbench a spawn helper: it runs
// the rest of its arguments as a command, times it, and writes the wall
// time and the child's peak RSS to file descriptor 3.
//
// The helper exists because of how Linux counts peak RSS. Go starts a
// child with clone(CLONE_VM|CLONE_VFORK), so until the child calls exec it
// shares its parent's memory, and exec records that memory's high-water
// mark in the child's ru_maxrss. Every child of mlbbench would report at
// least mlbbench's own peak, which holds the workloads' buffers. The
// helper is a fresh small process, so only its few MiB set that floor.
const spawnArg = "-spawn-helper"

// runSpawnHelper is the helper's main: argv is the command to run. It exits
// with the command's exit status.
func runSpawnHelper(argv []string) {
	report := os.NewFile(3, "report")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		fmt.Fprintf(os.Stderr, "mlbbench: %v\n", err)
		os.Exit(127)
	}
	var maxRSS int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxRSS = ru.Maxrss // KiB on Linux
	}
	fmt.Fprintf(report, "%d %d\n", wall.Nanoseconds(), maxRSS)
	report.Close()
	os.Exit(cmd.ProcessState.ExitCode())
}

// helperCommand returns a command that runs argv under the spawn helper,
// and the read end of the helper's report pipe, which parseHelperReport
// reads after the command has finished.
func helperCommand(argv []string) (*exec.Cmd, *os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, append([]string{spawnArg}, argv...)...)
	cmd.ExtraFiles = []*os.File{w}
	return cmd, r, nil
}

// parseHelperReport reads the helper's "WALL_NS MAXRSS_KIB" line.
func parseHelperReport(r *os.File) (sample, error) {
	defer r.Close()
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	fields := strings.Fields(string(buf[:n]))
	if len(fields) != 2 {
		return sample{}, fmt.Errorf("spawn helper sent no report")
	}
	wall, err1 := strconv.ParseInt(fields[0], 10, 64)
	rss, err2 := strconv.ParseInt(fields[1], 10, 64)
	if err1 != nil || err2 != nil {
		return sample{}, fmt.Errorf("spawn helper sent an invalid report %q", buf[:n])
	}
	return sample{wall: time.Duration(wall), maxRSS: rss << 10}, nil
}

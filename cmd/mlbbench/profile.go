//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profileRuns is the maximum number of profiled runs merged for one case.
// Go's profiler samples every 10 ms of CPU, so a run of tens of
// milliseconds gives only a few samples. Longer runs get fewer repeats, so
// that a case spends about profileBudget.
const (
	profileRuns   = 20
	profileBudget = 10 * time.Second
)

// profileTopLines is how many functions of a profile the report lists.
const profileTopLines = 25

// profileMLB runs the mlb contender c under mlb debug profile, each run
// after c's setup, and returns the top of the merged profile by flat time,
// as go tool pprof -top prints it. median is c's median time, which sets
// the number of runs.
func (b *bench) profileMLB(c *contender, median time.Duration) (string, error) {
	runs := profileRuns
	if median > 0 {
		runs = max(1, min(profileRuns, int(profileBudget/median)))
	}
	dir, err := os.MkdirTemp(b.work, "profile-*")
	if err != nil {
		return "", err
	}
	var files []string
	for i := range runs {
		p := filepath.Join(dir, fmt.Sprintf("cpu-%02d.pprof", i))
		profiled := *c
		profiled.argv = append([]string{b.mlb, "debug", "profile", p, "--"}, c.argv[1:]...)
		profiled.check = nil
		if _, _, err := runOnce(&profiled, 1000+i); err != nil {
			return "", err
		}
		files = append(files, p)
	}
	args := append([]string{"tool", "pprof", "-top", fmt.Sprintf("-nodecount=%d", profileTopLines), b.mlb}, files...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w", err)
	}
	return fmt.Sprintf("%d runs merged\n%s", runs, strings.TrimSpace(string(out))), nil
}

//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// contender is one tool doing one case of a workload. Exactly one of argv
// and inProcess is set.
type contender struct {
	tool string   // column label, such as "mlb" or "ninja -j2"
	argv []string // the command, run in dir
	dir  string
	env  []string // added to the benchmark's own environment

	// shown is the command as the report prints it, when argv alone would
	// mislead, as for a shell pipeline; empty means argv.
	shown string

	// inProcess is timed instead of a command, for rates measured inside
	// mlbbench itself.
	inProcess func() error

	// setup runs before every run, untimed, to put the work tree in the
	// state the case starts from.
	setup func(run int) error

	// maxRuns, when positive, caps this contender's timed runs below the
	// case's, for a tool too slow to repeat; noWarmup skips its warm-up.
	maxRuns  int
	noWarmup bool

	// check runs after every run, untimed, on the command's standard
	// output, to prove the tool did the expected work.
	check func(stdout string) error
}

// checkError is a run that finished but did not do the expected work.
type checkError struct{ err error }

func (e *checkError) Error() string { return e.err.Error() }

// sample is one timed run.
type sample struct {
	wall   time.Duration
	maxRSS int64 // bytes; zero for in-process runs
}

// stats summarizes the runs of one contender.
type stats struct {
	median, min, max time.Duration
	maxRSS           int64 // the largest peak RSS of any run, in bytes
	runs             int
	lastOutput       string // standard output of the last run

	// checkFailed is the first failed check of the work a run did; empty
	// when every run passed or the contender has no check.
	checkFailed string
	checked     bool
}

// runOnce runs c once and returns the sample and the command's output. A
// failed check comes back as a *checkError, after the sample is complete.
func runOnce(c *contender, run int) (sample, string, error) {
	if c.setup != nil {
		if err := c.setup(run); err != nil {
			return sample{}, "", fmt.Errorf("%s: set up run %d: %w", c.tool, run, err)
		}
	}
	if c.inProcess != nil {
		start := time.Now()
		err := c.inProcess()
		return sample{wall: time.Since(start)}, "", err
	}

	var stdout, stderr bytes.Buffer
	cmd, report, err := helperCommand(c.argv)
	if err != nil {
		return sample{}, "", err
	}
	cmd.Dir = c.dir
	cmd.Env = append(cmd.Environ(), c.env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	cmd.ExtraFiles[0].Close()
	s, err := parseHelperReport(report)
	if runErr != nil {
		return s, stdout.String(), fmt.Errorf("%s: %s: %w\n%s", c.tool, strings.Join(c.argv, " "), runErr, tail(stderr.String()+stdout.String(), 15))
	}
	if err != nil {
		return s, stdout.String(), err
	}
	if c.check != nil {
		if err := c.check(stdout.String()); err != nil {
			return s, stdout.String(), &checkError{fmt.Errorf("%s: run %d: %w", c.tool, run, err)}
		}
	}
	return s, stdout.String(), nil
}

// measure runs every contender warmups times untimed, then runs times
// timed. The contenders take turns within each round, and the first to go
// moves by one each round, so a slow drift of the machine (page cache,
// writeback, CPU clock) is spread over all of them.
func measure(contenders []*contender, warmups, runs int) (map[string]*stats, error) {
	checks := map[string]string{}
	record := func(c *contender, err error) error {
		var ce *checkError
		if errors.As(err, &ce) {
			logf("    check failed: %v", ce)
			if checks[c.tool] == "" {
				checks[c.tool] = ce.Error()
			}
			return nil
		}
		return err
	}
	for w := range warmups {
		for _, c := range contenders {
			if c.noWarmup {
				continue
			}
			if _, _, err := runOnce(c, -1-w); record(c, err) != nil {
				return nil, err
			}
		}
	}
	samples := map[string][]sample{}
	last := map[string]string{}
	for r := range runs {
		for k := range contenders {
			c := contenders[(k+r)%len(contenders)]
			if c.maxRuns > 0 && len(samples[c.tool]) >= c.maxRuns {
				continue
			}
			s, stdout, err := runOnce(c, r)
			if record(c, err) != nil {
				return nil, err
			}
			samples[c.tool] = append(samples[c.tool], s)
			last[c.tool] = stdout
		}
	}
	out := map[string]*stats{}
	for _, c := range contenders {
		st := summarize(samples[c.tool])
		st.lastOutput = last[c.tool]
		st.checked, st.checkFailed = c.check != nil, checks[c.tool]
		out[c.tool] = st
		logf("    %-34s median %-9s min %-9s max %-9s peak RSS %s", c.tool, formatSeconds(st.median), formatSeconds(st.min), formatSeconds(st.max), formatBytes(st.maxRSS))
	}
	return out, nil
}

func summarize(ss []sample) *stats {
	st := &stats{runs: len(ss)}
	if len(ss) == 0 {
		return st
	}
	walls := make([]time.Duration, len(ss))
	for i, s := range ss {
		walls[i] = s.wall
		st.maxRSS = max(st.maxRSS, s.maxRSS)
	}
	slices.Sort(walls)
	st.min, st.max = walls[0], walls[len(walls)-1]
	if n := len(walls); n%2 == 1 {
		st.median = walls[n/2]
	} else {
		st.median = (walls[n/2-1] + walls[n/2]) / 2
	}
	return st
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

func formatSeconds(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func formatBytes(n int64) string {
	switch {
	case n == 0:
		return "-"
	case n < 10<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n < 10<<30:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// commandLine returns c's command as the report shows it: the mlb under
// test, at mlbPath, as plain mlb, and a newline in an argument as \n.
func commandLine(c *contender, mlbPath string) string {
	if c.shown != "" {
		return c.shown
	}
	var words []string
	for i, a := range c.argv {
		switch {
		case i == 0 && a == mlbPath:
			a = "mlb"
		case i == 0:
			a = filepath.Base(a)
		}
		a = strings.ReplaceAll(a, "\n", `\n`)
		if strings.ContainsAny(a, " '\"$*?|<>;&") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

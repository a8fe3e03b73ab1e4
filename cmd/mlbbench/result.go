//go:build linux

package main

import (
	"fmt"
	"time"
)

// workloadResult is the measurements of one workload, ready for the report.
type workloadResult struct {
	title   string   // section heading
	about   []string // paragraphs: what was generated and how it was run
	cases   []*caseResult
	targets []*targetCheck
	notes   []string // facts found while running, such as a skipped tool

	// loadBefore and loadAfter are the 1-minute load averages when the
	// workload started and ended: other work on the machine shows there.
	loadBefore, loadAfter string
}

// caseResult is one case of a workload, such as a no-op build, with the
// stats of every contender in the order they are shown.
type caseResult struct {
	name     string
	tools    []string
	commands map[string]string // tool -> command line as shown in the report
	stats    map[string]*stats
	bytes    int64  // bytes each run processes; when set, the report shows rates
	profile  string // go tool pprof -top of mlb in this case, with -profile
}

func newCase(name string, contenders []*contender, st map[string]*stats, mlbPath string) *caseResult {
	c := &caseResult{name: name, commands: map[string]string{}, stats: st}
	for _, k := range contenders {
		c.tools = append(c.tools, k.tool)
		c.commands[k.tool] = commandLine(k, mlbPath)
	}
	return c
}

// median returns the median time of tool, or zero when it did not run.
func (c *caseResult) median(tool string) time.Duration {
	if c == nil || c.stats[tool] == nil {
		return 0
	}
	return c.stats[tool].median
}

// targetCheck is one target from the benchmark's specification, checked
// against the figures of this run.
type targetCheck struct {
	what     string  // what is compared, in words
	measured string  // the measured value, formatted
	target   string  // the target, formatted
	pass     bool    // whether the target is met
	skipped  string  // when not empty, why the check could not be made
	value    float64 // the measured ratio, for the summary
}

// ratioAtMost checks that a / b <= limit, for times where less is better.
func ratioAtMost(what string, a, b time.Duration, limit float64) *targetCheck {
	if a == 0 || b == 0 {
		return &targetCheck{what: what, target: fmt.Sprintf("≤ %.2g×", limit), skipped: "not measured"}
	}
	r := float64(a) / float64(b)
	return &targetCheck{what: what, value: r, measured: fmt.Sprintf("%.2f×", r), target: fmt.Sprintf("≤ %.2g×", limit), pass: r <= limit}
}

// ratioAtLeast checks that a / b >= limit.
func ratioAtLeast(what string, a, b float64, limit float64) *targetCheck {
	if a == 0 || b == 0 {
		return &targetCheck{what: what, target: fmt.Sprintf("≥ %.2g×", limit), skipped: "not measured"}
	}
	r := a / b
	return &targetCheck{what: what, value: r, measured: fmt.Sprintf("%.2f×", r), target: fmt.Sprintf("≥ %.2g×", limit), pass: r >= limit}
}

// rate returns bytes per second for n bytes in d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func formatRate(bytesPerSecond float64) string {
	return fmt.Sprintf("%.2f GB/s", bytesPerSecond/1e9)
}

// checked turns the checks of a contender's runs into a target: met when
// every run did the expected work.
func checked(what string, st *stats) *targetCheck {
	c := &targetCheck{what: what, target: "every run"}
	switch {
	case st == nil || !st.checked:
		c.skipped = "not measured"
	case st.checkFailed != "":
		c.measured = "failed: " + st.checkFailed
	default:
		c.measured, c.pass = fmt.Sprintf("all %d runs", st.runs), true
	}
	return c
}

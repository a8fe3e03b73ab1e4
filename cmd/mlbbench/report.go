//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// report is everything one mlbbench session measured.
type report struct {
	quick     bool
	warmups   int
	runs      int
	machine   machine
	tools     []toolVersion
	workloads []*workloadResult
	goBench   []goBenchLine
	elapsed   time.Duration
}

// The generated part of docs/benchmarks.md lies between these markers. The
// text outside them, such as the analysis of missed targets, is written by
// hand, and mlbbench keeps it when it rewrites the file.
const (
	beginMarker = "<!-- mlbbench: generated from here; edit outside these markers -->"
	endMarker   = "<!-- mlbbench: end of generated text -->"
)

// writeFile replaces the generated part of the document at path, or
// creates the document.
func (r *report) writeFile(path string) error {
	generated := r.markdown()
	old, err := os.ReadFile(path)
	var doc string
	switch {
	case os.IsNotExist(err):
		doc = "# Benchmarks\n\n" + beginMarker + "\n" + generated + endMarker + "\n"
	case err != nil:
		return err
	default:
		before, rest, ok1 := strings.Cut(string(old), beginMarker)
		_, after, ok2 := strings.Cut(rest, endMarker)
		if !ok1 || !ok2 {
			return fmt.Errorf("%s lacks the mlbbench markers; restore them or remove the file", path)
		}
		doc = before + beginMarker + "\n" + generated + endMarker + after
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// markdown returns the generated part of the report.
func (r *report) markdown() string {
	var b bytes.Buffer
	mode := "full"
	if r.quick {
		mode = "quick (-quick: smaller workloads, fewer rounds)"
	}
	fmt.Fprintf(&b, "\n## Last run\n\nMode: %s. Each case: %d untimed warm-up run of every contender, then %d timed rounds in which the contenders take turns, the first to go moving by one each round. Times are wall-clock medians with the min–max range; peak RSS is `ru_maxrss` from wait4(2), for mlb only. The whole run took %s.\n\n",
		mode, r.warmups, r.runs, r.elapsed.Round(time.Second))

	// Machine and tools.
	b.WriteString("| machine | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| CPU | %s |\n| cores | %d |\n| memory | %s |\n| kernel | %s |\n| file system | %s |\n\n",
		r.machine.cpu, r.machine.cores, r.machine.memory, r.machine.kernel, r.machine.fileSystem)
	b.WriteString("| tool | version |\n| --- | --- |\n")
	for _, t := range r.tools {
		fmt.Fprintf(&b, "| %s | %s |\n", t.name, escapeCell(t.version))
	}

	// Targets first: they are what a reader looks for.
	b.WriteString("\n### Targets\n\n| workload | target | measured | goal | met |\n| --- | --- | --- | --- | --- |\n")
	for _, w := range r.workloads {
		for _, t := range w.targets {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", w.title, escapeCell(t.what), escapeCell(t.measured), t.target, verdict(t))
		}
	}

	for _, w := range r.workloads {
		fmt.Fprintf(&b, "\n### %s\n\n", w.title)
		for _, p := range w.about {
			b.WriteString(p + "\n\n")
		}
		fmt.Fprintf(&b, "Load average (1 minute) %s at the start, %s at the end, on %d cores.\n\n", w.loadBefore, w.loadAfter, r.machine.cores)
		for _, n := range w.notes {
			b.WriteString(n + "\n\n")
		}
		for _, c := range w.cases {
			writeCase(&b, c)
		}
	}

	if len(r.goBench) > 0 {
		b.WriteString("\n### Go benchmarks\n\n`go test -run '^$' -bench . -benchmem " + strings.Join(goBenchPackages, " ") + "`\n\n| package | benchmark | iterations | results |\n| --- | --- | --- | --- |\n")
		for _, l := range r.goBench {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", l.pkg, l.name, l.iterations, strings.Join(l.metrics, ", "))
		}
	}

	var profiled bool
	for _, w := range r.workloads {
		for _, c := range w.cases {
			if c.profile == "" {
				continue
			}
			if !profiled {
				b.WriteString("\n### Profiles of mlb\n\nEach is up to " + fmt.Sprint(profileRuns) + " runs of the case under `mlb debug profile`, fewer for slow cases, merged, as `go tool pprof -top` prints them.\n")
				profiled = true
			}
			fmt.Fprintf(&b, "\n%s, %s:\n\n```\n%s\n```\n", w.title, c.name, c.profile)
		}
	}
	b.WriteString("\n")
	return b.String()
}

func writeCase(b *bytes.Buffer, c *caseResult) {
	fmt.Fprintf(b, "**%s**\n\n| contender | median | min–max |", c.name)
	if c.bytes > 0 {
		b.WriteString(" throughput |")
	}
	b.WriteString(" peak RSS | command |\n| --- | --- | --- |")
	if c.bytes > 0 {
		b.WriteString(" --- |")
	}
	b.WriteString(" --- | --- |\n")
	for _, tool := range c.tools {
		st := c.stats[tool]
		fmt.Fprintf(b, "| %s | %s | %s–%s |", escapeCell(tool), formatSeconds(st.median), formatSeconds(st.min), formatSeconds(st.max))
		if c.bytes > 0 {
			fmt.Fprintf(b, " %s |", formatRate(rate(c.bytes, st.median)))
		}
		rss := "-"
		if isMLB(tool) {
			rss = formatBytes(st.maxRSS)
		}
		fmt.Fprintf(b, " %s | `%s` |\n", rss, escapeCell(c.commands[tool]))
	}
	b.WriteString("\n")
}

// printSummary writes the targets and their verdicts to w.
func printSummary(w io.Writer, r *report) {
	fmt.Fprintln(w, "target                                                                  measured     goal        met")
	for _, wl := range r.workloads {
		for _, t := range wl.targets {
			fmt.Fprintf(w, "%-71s %-12s %-11s %s\n", wl.title+": "+t.what, t.measured, t.target, verdict(t))
		}
	}
}

func verdict(t *targetCheck) string {
	switch {
	case t.skipped != "":
		return "not checked: " + t.skipped
	case t.pass:
		return "yes"
	}
	return "**no**"
}

// isMLB reports whether a contender label names an mlb run.
func isMLB(tool string) bool {
	return tool == "mlb" || strings.HasPrefix(tool, "mlb ") || strings.HasPrefix(tool, "mlb,")
}

func escapeCell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/mlbuild/mlb/engine"
)

// progress shows a build's stages as they run. On a terminal, finished
// stages print one line each and the running ones stay at the bottom with
// their elapsed time, redrawn every tick. Elsewhere, as in CI, every start
// and finish is one plain line.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	plain   *bufio.Writer // w when not live: up-to-date lines wait for the next other line
	live    bool
	active  map[string]activeStage
	drawn   int // lines of the live block on screen
	stop    chan struct{}
	stopped sync.WaitGroup

	// status returns one more line for the live block, such as remote
	// cache transfers; nil or "" shows none.
	status func() string
}

type activeStage struct {
	action string
	since  time.Time
}

// redrawEvery is how often a terminal's live block refreshes.
const redrawEvery = 200 * time.Millisecond

func newProgress(w io.Writer, mode string, _ []*engine.Stage) *progress {
	p := &progress{w: w, active: map[string]activeStage{}, stop: make(chan struct{})}
	switch mode {
	case "tty":
		p.live = true
	case "auto":
		p.live = liveTerminal(w)
	}
	if p.live {
		p.stopped.Add(1)
		go p.tick()
	} else {
		// A no-op build of a large graph prints a line per stage; one
		// write for all of them, not one each.
		p.plain = bufio.NewWriterSize(w, 64<<10)
		p.w = p.plain
	}
	return p
}

// liveTerminal reports whether w is a terminal that can redraw a line:
// not a file or pipe, not a CI log, not a dumb terminal.
func liveTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("CI") == "" && os.Getenv("TERM") != "dumb"
}

func (p *progress) tick() {
	defer p.stopped.Done()
	t := time.NewTicker(redrawEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.redraw()
			p.mu.Unlock()
		}
	}
}

// StageStarted implements engine.Events.
func (p *progress) StageStarted(name, action string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, ok := p.active[name]
	since := time.Now()
	if ok {
		since = prev.since
	}
	p.active[name] = activeStage{action: action, since: since}
	if !p.live && action == "running" {
		fmt.Fprintf(p.w, "running    %s\n", name)
		p.plain.Flush()
	}
}

// StageFinished implements engine.Events.
func (p *progress) StageFinished(r *engine.StageRun) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.active, r.Name)
	p.clear()
	line := fmt.Sprintf("%-10s %s", r.State, r.Name)
	if r.State == engine.StateExecuted || r.State == engine.StateRestored || r.State == engine.StateFailed {
		line += fmt.Sprintf(" (%s)", formatDuration(r.Duration))
	}
	fmt.Fprintln(p.w, line)
	if p.plain != nil && r.State != engine.StateUpToDate {
		p.plain.Flush()
	}
	p.redraw()
}

// Close stops the live display.
func (p *progress) Close() {
	if p.live {
		close(p.stop)
		p.stopped.Wait()
	}
	p.mu.Lock()
	p.clear()
	if p.plain != nil {
		p.plain.Flush()
	}
	p.mu.Unlock()
}

// clear erases the live block. The caller holds p.mu.
func (p *progress) clear() {
	if !p.live || p.drawn == 0 {
		return
	}
	fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
	p.drawn = 0
}

// redraw prints the running stages below the finished lines. The caller
// holds p.mu.
func (p *progress) redraw() {
	if !p.live {
		return
	}
	p.clear()
	names := make([]string, 0, len(p.active))
	for n := range p.active {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := p.active[n]
		fmt.Fprintf(p.w, "  %-10s %s %s\n", a.action, n, formatDuration(time.Since(a.since)))
	}
	p.drawn = len(names)
	if p.status != nil {
		if line := p.status(); line != "" {
			fmt.Fprintf(p.w, "  %s\n", line)
			p.drawn++
		}
	}
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// formatMetrics prints metrics as name=value pairs sorted by name.
func formatMetrics(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s=%s", k, formatNumber(m[k])))
	}
	return strings.Join(parts, " ")
}

func formatNumber(f float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.6g", f), ".")
}

//go:build linux

// Command mlbbench measures mlb against the tools it competes with, on
// workloads it generates in a temporary folder, and rewrites
// docs/benchmarks.md with the figures.
//
// It runs mlb and each installed peer (b3sum, md5sum, find and xargs,
// ninja, make, Snakemake, cp) on the same work in one process. Every
// contender runs once untimed, then the contenders take turns for several
// timed rounds. The report gives the median with the min–max range, and
// mlb's peak RSS. It installs nothing; make bench-deps installs the peers,
// and a missing peer is left out of the report with a note.
//
// Usage, from the repository root:
//
//	go run ./cmd/mlbbench [-quick] [-mlb PATH] [-only hash,files,graph,restore,go] [-profile]
//
// -quick shrinks the workloads and the number of rounds to fit a CI job.
// Its figures are for spotting regressions, and the report names the mode
// that made it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// options are mlbbench's flags.
type options struct {
	quick   bool
	mlb     string
	out     string
	work    string
	keep    bool
	only    string
	profile bool
	runs    int
}

// bench is one benchmark session: its settings and the peers it found.
type bench struct {
	opts    options
	mlb     string // path of the mlb binary under test
	work    string // temporary folder of the generated workloads
	warmups int
	runs    int
	peers   map[string]string // program name -> path, for the peers found
	missing []string          // peers not installed
}

// peerPrograms are the programs mlbbench compares mlb with.
var peerPrograms = []string{"b3sum", "md5sum", "find", "xargs", "ninja", "make", "snakemake", "cp"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == spawnArg {
		runSpawnHelper(os.Args[2:])
		return
	}
	var o options
	flag.BoolVar(&o.quick, "quick", false, "small workloads and 3 rounds, for CI (about 2 minutes)")
	flag.StringVar(&o.mlb, "mlb", "", "mlb binary to measure (default: build ./cmd/mlb into the work folder)")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "report to rewrite; empty prints only to stdout")
	flag.StringVar(&o.work, "work", "", "folder for the workloads (default: a new folder in $TMPDIR)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder afterwards")
	flag.StringVar(&o.only, "only", "", "comma-separated workloads to run: hash, files, graph, restore, go (default: all)")
	flag.BoolVar(&o.profile, "profile", false, "also profile mlb in each case and add the pprof top lines to the report")
	flag.IntVar(&o.runs, "runs", 0, "timed rounds per case (default: 5, or 3 with -quick)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "mlbbench: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "mlbbench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	started := time.Now()
	b := &bench{opts: o, warmups: 1, runs: 5, peers: map[string]string{}}
	if o.quick {
		b.runs = 3
	}
	if o.runs > 0 {
		b.runs = o.runs
	}

	// The work folder, and the mlb under test.
	var err error
	if o.work == "" {
		if b.work, err = os.MkdirTemp("", "mlbbench-"); err != nil {
			return err
		}
	} else {
		b.work = o.work
		if err := os.MkdirAll(b.work, 0o755); err != nil {
			return err
		}
	}
	if !o.keep {
		defer os.RemoveAll(b.work)
	}
	if b.mlb, err = b.findMLB(); err != nil {
		return err
	}
	for _, p := range peerPrograms {
		if path, err := exec.LookPath(p); err == nil {
			b.peers[p] = path
		} else {
			b.missing = append(b.missing, p)
		}
	}
	if len(b.missing) > 0 {
		logf("not installed, left out: %s (make bench-deps installs them)", strings.Join(b.missing, ", "))
	}

	// The workloads, each on its own files.
	rep := &report{quick: o.quick, warmups: b.warmups, runs: b.runs, machine: describeMachine(b.work), tools: b.toolVersions()}
	workloads := []struct {
		name string
		run  func() (*workloadResult, error)
	}{
		{"hash", b.hashWorkload},
		{"files", b.manyFilesWorkload},
		{"graph", b.graphWorkload},
		{"restore", b.restoreWorkload},
	}
	for _, w := range workloads {
		if !b.selected(w.name) {
			continue
		}
		logf("workload %s", w.name)
		load := loadAverage()
		res, err := w.run()
		if err != nil {
			return fmt.Errorf("workload %s: %w", w.name, err)
		}
		res.loadBefore, res.loadAfter = load, loadAverage()
		rep.workloads = append(rep.workloads, res)
	}
	if b.selected("go") {
		logf("go test -bench")
		if rep.goBench, err = b.goBenchmarks(); err != nil {
			return err
		}
	}
	rep.elapsed = time.Since(started)

	// The report: the summary to stdout, everything to the document.
	printSummary(os.Stdout, rep)
	if o.out == "" {
		return nil
	}
	if err := rep.writeFile(o.out); err != nil {
		return err
	}
	logf("wrote %s in %s", o.out, rep.elapsed.Round(time.Second))
	return nil
}

func (b *bench) selected(name string) bool {
	if b.opts.only == "" {
		return true
	}
	for _, n := range strings.Split(b.opts.only, ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}

// findMLB returns the -mlb binary, or builds ./cmd/mlb into the work folder.
func (b *bench) findMLB() (string, error) {
	if b.opts.mlb != "" {
		return filepath.Abs(b.opts.mlb)
	}
	bin := filepath.Join(b.work, "bin", "mlb")
	logf("go build -o %s ./cmd/mlb", bin)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mlb")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build mlb (run mlbbench from the repository root, or pass -mlb): %w", err)
	}
	return bin, nil
}

// has reports whether the peer program is installed.
func (b *bench) has(program string) bool { return b.peers[program] != "" }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mlbbench: "+format+"\n", args...)
}

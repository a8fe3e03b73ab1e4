//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// goBenchPackages are the packages whose Go benchmarks the report lists.
var goBenchPackages = []string{"./cache", "./engine"}

// goBenchLine is one result line of go test -bench.
type goBenchLine struct {
	pkg, name, iterations string
	metrics               []string // "123 ns/op", "45.6 MB/s", ...
}

// goBenchmarks runs the Go benchmarks of goBenchPackages and returns their
// result lines.
func (b *bench) goBenchmarks() ([]goBenchLine, error) {
	benchtime := "1s"
	if b.opts.quick {
		benchtime = "100ms"
	}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", benchtime}, goBenchPackages...)
	var stdout bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, tail(stdout.String(), 20))
	}
	return parseGoBench(stdout.String()), nil
}

// parseGoBench picks the result lines out of go test -bench output.
func parseGoBench(out string) []goBenchLine {
	var lines []goBenchLine
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "pkg:":
			pkg = f[1]
		case len(f) >= 4 && strings.HasPrefix(f[0], "Benchmark"):
			l := goBenchLine{pkg: pkg, name: f[0], iterations: f[1]}
			for i := 2; i+1 < len(f); i += 2 {
				l.metrics = append(l.metrics, f[i]+" "+f[i+1])
			}
			lines = append(lines, l)
		}
	}
	return lines
}

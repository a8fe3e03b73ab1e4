// Command mlb builds machine-learning pipelines written in HCL: it runs
// only the stages whose inputs, params or commands changed, restores the
// rest from a content-addressed cache, and records every run.
package main

import (
	"os"
)

func main() {
	os.Exit(Main())
}

// Main runs mlb with the process's arguments and streams and returns its
// exit status. Tests call it in place of a separate binary.
func Main() int {
	mayHandOver = true
	tuneGC()
	keepGoingOnClosedOutput()
	return run(os.Args[1:], os.Stdout, os.Stderr)
}

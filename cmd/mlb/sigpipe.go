package main

import (
	"os"
	"os/signal"
	"syscall"
)

// keepGoingOnClosedOutput makes a write to a closed stdout or stderr fail
// with EPIPE instead of killing mlb. Without it, `mlb build | head -1`
// ended the build at the second line of progress, before the run record
// was written, and left the outputs built so far without lineage. The
// signal is caught, not ignored, so the stages' commands start with the
// default action and a pipeline inside a command ends as usual.
func keepGoingOnClosedOutput() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}

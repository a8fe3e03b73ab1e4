package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/mlbuild/mlb/engine"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1 // a stage failed, or mlb could not do its work
	exitUsage       = 2 // bad flags or arguments
	exitInvalidFile = 3 // the pipeline or a params file has errors
)

// diagError carries pipeline diagnostics to the one place that prints them.
type diagError struct {
	diags hcl.Diagnostics
	files map[string]*hcl.File
}

func (e *diagError) Error() string { return e.diags.Error() }

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

// reportedError is an error whose details were already printed.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }

// exitCode prints err and maps it to an exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var de *diagError
	var ue *usageError
	var re *reportedError
	var be *engine.BuildError
	switch {
	case errors.As(err, &de):
		writeDiagnostics(stderr, de.diags, de.files)
		return exitInvalidFile
	case errors.As(err, &re):
		return exitFailed
	case errors.As(err, &be):
		fmt.Fprintf(stderr, "mlb: %v\n", err)
		return exitFailed
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mlb: %v\nRun 'mlb --help' for usage.\n", err)
		return exitUsage
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "accepts ") {
		fmt.Fprintf(stderr, "mlb: %v\nRun 'mlb --help' for usage.\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "mlb: %v\n", err)
	return exitFailed
}

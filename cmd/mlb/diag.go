package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// writeDiagnostics prints each diagnostic as FILE:LINE:COLUMN, its summary,
// the source line with a caret under the start of the range, and the
// detail, which says what to do.
func writeDiagnostics(w io.Writer, diags hcl.Diagnostics, files map[string]*hcl.File) {
	for _, d := range diags {
		severity := "error"
		if d.Severity == hcl.DiagWarning {
			severity = "warning"
		}
		if d.Subject == nil {
			fmt.Fprintf(w, "%s: %s\n", severity, d.Summary)
		} else {
			r := d.Subject
			fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", r.Filename, r.Start.Line, r.Start.Column, severity, d.Summary)
			if line, ok := sourceLine(files[r.Filename], r.Start.Line); ok {
				prefix := fmt.Sprintf("  %d | ", r.Start.Line)
				fmt.Fprintf(w, "%s%s\n", prefix, line)
				pad := strings.Repeat(" ", len(prefix)-2)
				caret := strings.Repeat(" ", max(0, r.Start.Column-1))
				fmt.Fprintf(w, "%s| %s^\n", pad, caret)
			}
		}
		if d.Detail != "" {
			fmt.Fprintf(w, "  %s\n", d.Detail)
		}
	}
}

func sourceLine(f *hcl.File, n int) (string, bool) {
	if f == nil || n < 1 {
		return "", false
	}
	lines := bytes.Split(f.Bytes, []byte("\n"))
	if n > len(lines) {
		return "", false
	}
	return strings.ReplaceAll(string(lines[n-1]), "\t", " "), true
}

package main

import (
	"runtime/debug"
	"strings"
)

// buildVersion is set by make build from git describe; see the Makefile.
var buildVersion string

// version describes this build of mlb: the version make build stamped in,
// else the module version or the git commit that go build recorded.
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	v := "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = " with uncommitted changes"
				}
			}
		}
		if rev != "" && (v == "" || v == "(devel)" || strings.Contains(v, "+dirty")) {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			v = "commit " + rev + dirty
		}
	}
	return v
}

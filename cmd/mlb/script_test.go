package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mlb": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the CLI scripts in testdata/script. Each script is a
// txtar archive: commands to run, then the files of a workspace.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// Plain progress lines, whatever the terminal.
			env.Setenv("CI", "true")
			return nil
		},
	})
}

package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":  cmdExitCode,
			"setmtime":  cmdSetMtime,
			"perm":      cmdPerm,
			"waitfile":  cmdWaitFile,
			"waitdead":  cmdWaitDead,
			"jsonvalid": cmdJSONValid,
			"capture":   cmdCapture,
		},
	})
}

// pollLimit bounds how long waitfile and waitdead poll before they fail the
// script. It only guards against a hung test: no script asserts a duration.
const pollLimit = 60 * time.Second

// cmdExitCode runs a program like exec and checks its exit status:
//
//	exitcode N program [args...]
//
// Its stdout and stderr are kept for the stdout and stderr commands.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: invalid status %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		got = exitErr.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdSetMtime sets a file's access and modification times:
//
//	setmtime FILE 2006-01-02T15:04:05Z
func cmdSetMtime(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: setmtime FILE RFC3339-TIME")
	}
	at, err := time.Parse(time.RFC3339, args[1])
	ts.Check(err)
	ts.Check(os.Chtimes(ts.MkAbs(args[0]), at, at))
}

// cmdPerm checks a file's permission bits, given in octal:
//
//	perm FILE 0755
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm FILE OCTAL-MODE")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		ts.Fatalf("perm: invalid mode %q", args[1])
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fi.Mode().Perm()
	switch {
	case !neg && got != os.FileMode(want):
		ts.Fatalf("%s has mode %04o, want %04o", args[0], got, want)
	case neg && got == os.FileMode(want):
		ts.Fatalf("%s has mode %04o, want any other", args[0], got)
	}
}

// cmdWaitFile waits until a file exists:
//
//	waitfile FILE
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	path := ts.MkAbs(args[0])
	for deadline := time.Now().Add(pollLimit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	ts.Fatalf("%s did not appear within %s", args[0], pollLimit)
}

// cmdWaitDead reads a process id from a file and waits until neither that
// process nor any other member of its process group is alive:
//
//	waitdead PIDFILE
//
// Zombies count as dead: they can no longer write anything.
func cmdWaitDead(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitdead PIDFILE")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(args[0])))
	if err != nil {
		ts.Fatalf("waitdead: %s contains no process id: %v", args[0], err)
	}
	var alive []int
	for deadline := time.Now().Add(pollLimit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if alive = liveGroupMembers(pid); len(alive) == 0 {
			return
		}
	}
	ts.Fatalf("process %d or its group still runs: live processes %v", pid, alive)
}

// liveGroupMembers returns the ids of the live processes, zombies excluded,
// whose process id or process group id is pid. It reads Linux's /proc.
func liveGroupMembers(pid int) []int {
	var alive []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the process exited after the glob
		}

		// The command name in brackets may contain spaces, so the fields
		// are counted from the last ')': state, ppid, pgrp, ...
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 3 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		id, _ := strconv.Atoi(strings.Fields(s)[0])
		pgrp, _ := strconv.Atoi(fields[2])
		if id == pid || pgrp == pid {
			alive = append(alive, id)
		}
	}
	if len(stats) == 0 {
		// No /proc: fall back to asking the kernel about the one process.
		if syscall.Kill(pid, 0) == nil {
			alive = append(alive, pid)
		}
	}
	return alive
}

// cmdJSONValid checks that a file, or stdout or stderr, contains one valid
// JSON value:
//
//	jsonvalid stdout
func cmdJSONValid(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: jsonvalid FILE")
	}
	var v any
	err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &v)
	if (err == nil) == neg {
		if neg {
			ts.Fatalf("%s is valid JSON", args[0])
		}
		ts.Fatalf("%s is not valid JSON: %v", args[0], err)
	}
}

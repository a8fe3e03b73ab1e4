package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second Ctrl-C ends a build that is busy hashing a large input at
// once, with status 130. The first only cancels the build.
func TestSecondInterruptExits(t *testing.T) {
	bin, ws := binaryWorkspace(t, "stage \"a\" {\n  inputs  = { big = \"big.bin\" }\n  outputs = { o = \"o.txt\" }\n  command = \"echo > o.txt\"\n}\n")
	// A sparse file: hashing its zeros takes many seconds.
	f, err := os.Create(filepath.Join(ws, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cmd := exec.Command(bin, "build")
	cmd.Dir = ws
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitBusy(t, cmd.Process.Pid, 30)
	_ = cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(200 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("mlb still runs a minute after the second interrupt")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit status %d, want 130\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted again") {
		t.Errorf("stderr = %q, want it to say it exits on the second interrupt", stderr.String())
	}
}

// waitBusy waits until process pid has used ticks clock ticks of CPU
// time, so that the interrupts reach a build that is hashing.
func waitBusy(t *testing.T, pid int, ticks int64) {
	t.Helper()
	for range 600 {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatalf("read process status: %v", err)
		}
		// utime and stime are fields 14 and 15; the command name before
		// them is in parentheses.
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		if utime+stime >= ticks {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("mlb used less than %d ticks of CPU time in 30 s", ticks)
}

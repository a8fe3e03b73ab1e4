package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		cmd      Command
		wantExit int
		wantOut  string
	}{
		{"argv", Command{Argv: []string{"echo", "hello", "world"}}, 0, "hello world\n"},
		{"argv no shell expansion", Command{Argv: []string{"echo", "$HOME", "*", "a;b"}}, 0, "$HOME * a;b\n"},
		{"argv keeps spaces", Command{Argv: []string{"printf", "[%s]", "a b", " c "}}, 0, "[a b][ c ]"},
		{"shell", Command{Shell: "echo $((6 * 7)) | tr 4 x"}, 0, "x2\n"},
		{"shell exit code", Command{Shell: "echo partial; exit 3"}, 3, "partial\n"},
		{"argv exit code", Command{Argv: []string{"sh", "-c", "exit 7"}}, 7, ""},
		{"argv wins over shell", Command{Argv: []string{"echo", "argv"}, Shell: "echo shell"}, 0, "argv\n"},
		{"env", Command{Shell: `echo "$SEED/$EMPTY/$UNSET"`, Env: []string{"SEED=42", "EMPTY="}}, 0, "42//\n"},
		{"env is complete", Command{Shell: `echo "${HOME-unset}"`, Env: []string{"A=1"}}, 0, "unset\n"},
		{"workdir", Command{Shell: "pwd; ls", Dir: dir}, 0, dir + "\nmarker\n"},
		{"stdout and stderr", Command{Shell: "echo out; echo err >&2; echo out2"}, 0, "out\nerr\nout2\n"},
		{"signal exit", Command{Shell: "kill -KILL $$"}, -1, ""},
	}
	if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.cmd.Output = &out
			res, err := Run(context.Background(), tt.cmd)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != tt.wantExit {
				t.Errorf("exit code = %d, want %d", res.ExitCode, tt.wantExit)
			}
			if res.TimedOut {
				t.Error("TimedOut = true")
			}
			if out.String() != tt.wantOut {
				t.Errorf("output = %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
}

func TestRunStartError(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
	}{
		{"missing program", Command{Argv: []string{"/nonexistent/program"}}},
		{"missing workdir", Command{Argv: []string{"true"}, Dir: "/nonexistent/folder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), tt.cmd)
			if err == nil {
				t.Fatalf("Run = %+v, want an error", res)
			}
			if res.ExitCode != -1 {
				t.Errorf("exit code = %d, want -1", res.ExitCode)
			}
		})
	}
}

// waitGone waits until the process pid has exited, treating a zombie as
// gone, and reports whether it did within a generous bound.
func waitGone(pid int) bool {
	for range 500 {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		// The state letter follows the command name in parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// waitPIDs waits for path to hold n process ids, one a line. It does not
// use t, so that it can run in any goroutine.
func waitPIDs(path string, n int) ([]int, error) {
	for range 500 {
		b, _ := os.ReadFile(path)
		fields := strings.Fields(string(b))
		if len(fields) >= n && strings.HasSuffix(string(b), "\n") {
			var pids []int
			for _, f := range fields {
				pid, err := strconv.Atoi(f)
				if err != nil {
					return nil, fmt.Errorf("invalid pid %q in %s", f, path)
				}
				pids = append(pids, pid)
			}
			return pids, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s never listed %d process ids", path, n)
}

func readPIDs(t *testing.T, path string, n int) []int {
	t.Helper()
	pids, err := waitPIDs(path, n)
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// The shell starts two background sleeps and waits for them. Stopping the
// command must stop all three, not only the shell.
const groupScript = `sleep 100 & echo $! >> "$PIDS"; sleep 100 & echo $! >> "$PIDS"; wait`

func TestRunTimeoutKillsGroup(t *testing.T) {
	tests := []struct {
		name   string
		script string
	}{
		{"children", groupScript},
		{"children ignore SIGTERM", `trap "" TERM; ` + groupScript},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pids := filepath.Join(t.TempDir(), "pids")
			var out bytes.Buffer
			res, err := Run(context.Background(), Command{
				Shell:   tt.script,
				Env:     []string{"PIDS=" + pids, "PATH=" + os.Getenv("PATH")},
				Output:  &out,
				Timeout: 300 * time.Millisecond,
			})
			if err == nil || !strings.Contains(err.Error(), "timed out") {
				t.Errorf("Run error = %v, want a timeout", err)
			}
			if !res.TimedOut {
				t.Error("TimedOut = false")
			}
			for _, pid := range readPIDs(t, pids, 2) {
				if !waitGone(pid) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("background child %d still runs after the timeout", pid)
				}
			}
		})
	}
}

func TestRunCancel(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = waitPIDs(pids, 2)
		cancel()
	}()
	var out bytes.Buffer
	res, err := Run(ctx, Command{
		Shell:  groupScript,
		Env:    []string{"PIDS=" + pids, "PATH=" + os.Getenv("PATH")},
		Output: &out,
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run error = %v, want context.Canceled", err)
	}
	if res.TimedOut {
		t.Error("TimedOut = true for a cancellation")
	}
	for _, pid := range readPIDs(t, pids, 2) {
		if !waitGone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("background child %d still runs after cancellation", pid)
		}
	}
}

func TestRunCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	marker := filepath.Join(t.TempDir(), "ran")
	_, err := Run(ctx, Command{Argv: []string{"touch", marker}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run error = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran although its context was cancelled")
	}
}

// A command that exits while a background child still runs succeeds, and
// the child goes with it. The output is a file, as a build's log is, so the
// child's open descriptor does not hold up the wait.
func TestRunReapsLeftoverChildren(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	res, err := Run(context.Background(), Command{
		Shell:  `sleep 100 & echo $! >> "$PIDS"; echo done`,
		Env:    []string{"PIDS=" + pids, "PATH=" + os.Getenv("PATH")},
		Output: log,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v; want exit 0", res, err)
	}
	for _, pid := range readPIDs(t, pids, 1) {
		if !waitGone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("background child %d outlived its command", pid)
		}
	}
}

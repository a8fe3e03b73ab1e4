package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command is one process to run.
type Command struct {
	Argv    []string      // run without a shell when set
	Shell   string        // run under "sh -c" when Argv is empty
	Dir     string        // working directory
	Env     []string      // full environment, as "NAME=value"
	Output  io.Writer     // receives stdout and stderr, interleaved
	Timeout time.Duration // zero means none

	// Group, when set, records the command's process group while it runs;
	// StopLeftovers reads it after a crash.
	Group *GroupFile
}

// Result describes a finished process.
type Result struct {
	ExitCode int
	Duration time.Duration
	TimedOut bool
}

// stopGrace is how long a cancelled process group has between SIGTERM and
// SIGKILL to clean up.
const stopGrace = 5 * time.Second

// Run starts c, waits for it and returns its exit status. A command that
// runs and exits non-zero is not an error: Result.ExitCode says so. Run
// returns an error only when the process could not start or was stopped by
// ctx or the timeout.
func Run(ctx context.Context, c Command) (Result, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	start := time.Now()
	cmd := c.startDirect(ctx)
	direct := cmd != nil
	if cmd == nil {
		argv := c.Argv
		if len(argv) == 0 {
			argv = []string{"sh", "-c", c.Shell}
		}
		cmd = c.newCmd(ctx, lookPath(argv[0]), argv, c.Env, c.Output)
		if err := cmd.Start(); err != nil {
			return Result{ExitCode: -1}, fmt.Errorf("start %s: %w", argv[0], err)
		}
	}
	if c.Group != nil {
		// Best effort: without the record, only a crash leaves strays.
		if c.Group.record(cmd.Process.Pid) == nil {
			defer c.Group.clear()
		}
	}
	err := cmd.Wait()
	res := Result{Duration: time.Since(start), ExitCode: cmd.ProcessState.ExitCode()}
	if direct {
		res.ExitCode = shellStatus(cmd.ProcessState, c.Output)
	}

	// Whatever the command left running in its group goes with it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	if ctx.Err() != nil {
		res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		if res.TimedOut {
			return res, fmt.Errorf("timed out after %s", c.Timeout)
		}
		return res, &InterruptedError{ctx.Err()}
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, err
	}
	return res, nil
}

// newCmd returns the command that runs the program at path with argv, in
// c's folder and process group, with env, stdout and c's output as its
// standard error.
func (c Command) newCmd(ctx context.Context, path string, argv, env []string, stdout io.Writer) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = c.Dir
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = c.Output
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = stopGrace
	return cmd
}

// InterruptedError reports a command stopped because its context was
// cancelled, as Ctrl-C does to a build.
type InterruptedError struct{ Cause error }

func (e *InterruptedError) Error() string { return "interrupted, stopped with its process group" }

func (e *InterruptedError) Unwrap() error { return e.Cause }

// lookPaths holds the programs lookPath found, by PATH and name.
var lookPaths sync.Map

// lookPath returns the path of the program name as exec.LookPath finds it
// on PATH, looked up once per process and value of PATH. exec.Command
// would search PATH again for each of a build's thousand stages, at a stat
// per PATH entry, and every stage under a shell starts "sh". A name with a
// slash, or one not found, is returned as it is, for exec to report.
func lookPath(name string) string {
	if strings.ContainsRune(name, '/') {
		return name
	}
	key := os.Getenv("PATH") + "\x00" + name
	if p, ok := lookPaths.Load(key); ok {
		return p.(string)
	}
	p, err := exec.LookPath(name)
	if err != nil || !filepath.IsAbs(p) {
		return name
	}
	lookPaths.Store(key, p)
	return p
}

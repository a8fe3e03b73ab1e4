package stages

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A group file records a running command's process group, so that the next
// build can stop what a killed mlb left running. It holds the group id and
// the leader's start time in clock ticks since boot, from /proc, which tells
// the original group apart from a later one that reuses the id.

func writeGroupFile(path string, pgid int) error {
	start, err := startTime(pgid)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(fmt.Sprintf("%d %d\n", pgid, start)), 0o644)
}

// StopLeftovers kills the process groups recorded in the group files in
// dir and removes the files. Call it only while holding the lock that the
// builds which write those files hold, so that every file belongs to a
// build that is gone. It returns how many groups it signalled.
//
// Linux keeps a process id allocated while any process still has it as its
// group id, so while members of a recorded group live, no new process can
// take that id. A group is skipped only when its leader is alive with
// another start time, which means the id was reused after the group ended.
func StopLeftovers(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	stopped := 0
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var pgid int
		var start uint64
		if _, err := fmt.Sscan(string(data), &pgid, &start); err == nil && pgid > 1 {
			if now, err := startTime(pgid); err != nil || now == start {
				if syscall.Kill(-pgid, syscall.SIGKILL) == nil {
					stopped++
				}
			}
		}
		_ = os.Remove(path)
	}
	return stopped
}

// startTime returns the start time of process pid in clock ticks since
// boot, field 22 of /proc/PID/stat.
func startTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may hold spaces; fields count from
	// after its closing parenthesis, where field 3 starts.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	const startField = 22 - 3
	if len(fields) <= startField {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[startField], 10, 64)
}

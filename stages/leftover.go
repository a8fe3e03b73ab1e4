package stages

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A GroupFile records a running command's process group, so that the next
// build can stop what a killed mlb left running. While a command runs it
// holds the group id and the leader's start time in clock ticks since boot,
// from /proc, which distinguishes the original group from a later one
// that reuses the id. Between commands the file holds only spaces.
//
// The record has a fixed size, padded with spaces, so that each write
// replaces the last in place: truncating the file twice per command cost
// as much as the write.
//
// One file serves the commands that one build worker runs one after
// another, so a build creates a file per worker, not one per command. On
// ext4 without a journal, creating a file soon after many were deleted
// scans past every recently freed inode, so the files a build does not
// create also make later ones cheaper.
type GroupFile struct {
	f *os.File
}

// CreateGroupFile creates an empty group file at path.
func CreateGroupFile(path string) (*GroupFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &GroupFile{f: f}, nil
}

// record writes the group pgid, whose leader has just started, into g.
func (g *GroupFile) record(pgid int) error {
	start, err := startTime(pgid)
	if err != nil {
		return err
	}
	line := fmt.Appendf(make([]byte, 0, groupRecordSize), "%d %d", pgid, start)
	for len(line) < groupRecordSize-1 {
		line = append(line, ' ')
	}
	_, err = g.f.WriteAt(append(line, '\n'), 0)
	return err
}

// groupRecordSize is the size of a group file's record: two numbers of at
// most 20 digits, a space between them, padding and a newline.
const groupRecordSize = 48

// blankGroupRecord is the record of a group file between commands.
var blankGroupRecord = []byte(strings.Repeat(" ", groupRecordSize-1) + "\n")

// clear blanks g after its command's group is gone.
func (g *GroupFile) clear() { _, _ = g.f.WriteAt(blankGroupRecord, 0) }

// Remove closes and deletes g.
func (g *GroupFile) Remove() error {
	name := g.f.Name()
	err := g.f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

// StopLeftovers kills the process groups recorded in the group files in
// dir and removes the files. Blank files name no group. Call it only while holding the lock that the
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

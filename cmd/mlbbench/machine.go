//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// machine describes the computer a report was made on.
type machine struct {
	cpu        string
	cores      int
	memory     string
	kernel     string
	fileSystem string // of the work folder
	disk       string // block device details, when found
}

func describeMachine(work string) machine {
	m := machine{cpu: "unknown", cores: runtime.NumCPU(), memory: "unknown", kernel: "unknown", fileSystem: "unknown"}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.cpu = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		var kib int64
		if _, err := fmt.Sscanf(v, "%d kB", &kib); err == nil {
			m.memory = formatBytes(kib << 10)
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.kernel = "Linux " + unix.ByteSliceToString(u.Release[:])
	}
	var st unix.Statfs_t
	if unix.Statfs(work, &st) == nil {
		m.fileSystem = fileSystemName(st.Type)
	}
	m.fileSystem += " (" + work + ")"
	return m
}

// loadAverage returns the 1-minute load average from /proc/loadavg, or
// "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(data)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// procField returns the value of the first "name : value" line of a /proc
// file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fileSystemName names a statfs(2) f_type magic number, from the kernel's
// include/uapi/linux/magic.h.
func fileSystemName(magic int64) string {
	switch magic {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794C7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	case 0xF2F52010:
		return "f2fs"
	}
	return fmt.Sprintf("file system 0x%x", magic)
}

// toolVersion is one program's version as the report lists it.
type toolVersion struct {
	name, version string
}

// toolVersions returns the version line of mlb, Go and every peer found.
func (b *bench) toolVersions() []toolVersion {
	out := []toolVersion{{"mlb", mlbVersion()}, {"go", firstLine(commandText("go", "version"))}}
	versionArgs := map[string][]string{
		"b3sum": {"--version"}, "md5sum": {"--version"}, "find": {"--version"}, "xargs": {"--version"},
		"ninja": {"--version"}, "make": {"--version"}, "snakemake": {"--version"}, "cp": {"--version"},
	}
	for _, p := range peerPrograms {
		if b.has(p) {
			out = append(out, toolVersion{p, firstLine(commandText(p, versionArgs[p]...))})
		}
	}
	return out
}

// mlbVersion returns the commit of the work tree mlbbench runs in, marked
// when the tree has uncommitted changes.
func mlbVersion() string {
	commit := strings.TrimSpace(commandText("git", "rev-parse", "--short=12", "HEAD"))
	if commit == "" {
		return "unknown commit"
	}
	if strings.TrimSpace(commandText("git", "status", "--porcelain", "--untracked-files=no")) != "" {
		commit += " with uncommitted changes"
	}
	return "commit " + commit
}

func commandText(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if line == "" {
		return "unknown"
	}
	return line
}

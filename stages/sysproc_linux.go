package stages

import "syscall"

// sysProcAttr puts the command in its own process group and has the kernel
// send it SIGKILL when mlb dies.
//
// The kernel clears the parent-death signal in the command's own children,
// so after mlb is killed with SIGKILL, a subshell or pipeline member of a
// shell command keeps running until the next build calls StopLeftovers.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

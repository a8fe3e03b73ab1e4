package stages

import "syscall"

// sysProcAttr puts the command in its own process group and has the kernel
// send it SIGKILL when mlb dies.
//
// NOTE: the kernel clears the parent-death signal in the command's own
// children, so after mlb is killed with SIGKILL, a subshell or pipeline
// member of a shell command keeps running and can race the next build.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

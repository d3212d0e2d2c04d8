//go:build unix

package testenv

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts Azurite (node) in its own process group so that killing
// the group also kills anything it started.
func setProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setDeathSignal(cmd.SysProcAttr)
}

// terminate signals the whole process group: SIGINT, on which Azurite closes
// its server and saves its database (SIGTERM would end node at once, losing
// up to 5 s of a persistent store's writes), or SIGKILL if hard.
func terminate(cmd *exec.Cmd, hard bool) {
	if cmd.Process == nil {
		return
	}
	sig := syscall.SIGINT
	if hard {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}

//go:build linux

package testenv

import "syscall"

// setDeathSignal kills Azurite if the test binary dies without cleaning up
// (a panic, a -timeout, SIGKILL), so no orphan keeps a port.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

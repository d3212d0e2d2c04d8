//go:build unix && !linux

package azuritetest

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}

//go:build !linux

package chtest

import "syscall"

// serverProcAttr puts the server in a process group of its own, which stop
// signals as a whole.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

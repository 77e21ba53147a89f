package chtest

import "syscall"

// serverProcAttr puts the server in a process group of its own, which stop
// signals as a whole, and has the kernel kill it if the test binary dies
// first, so that no server outlives its tests.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

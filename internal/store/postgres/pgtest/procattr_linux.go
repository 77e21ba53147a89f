package pgtest

import "syscall"

// serverProcAttr runs the server as cred (nil: as this process), in a
// process group of its own, and has the kernel send it SIGQUIT if the test
// binary dies first (a test timeout), so that no server outlives its tests.
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
}

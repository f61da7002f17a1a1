package main

import "syscall"

// childSysProcAttr makes the kernel send exec's command SIGTERM when
// stschain dies, even by SIGKILL, so that no command is left running with
// credentials that nobody renews or serves.
//
// The kernel sends it when the thread that started the command exits, not
// only the process (golang/go#27505); startCommand keeps that thread.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

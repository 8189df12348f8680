//go:build !linux

package testnet

import (
	"os/exec"
	"syscall"
)

// childAttr: elsewhere than Linux a node process does not learn that its
// testnet died; Close stops it.
func childAttr() *syscall.SysProcAttr { return nil }

func signalled(*exec.ExitError) bool { return false }

func processRSS(int) int64 { return 0 }

// SelfRSS returns 0, 0: only Linux's /proc is read.
func SelfRSS() (now, peak int64) { return 0, 0 }

func checkFDs(int, bool) error { return nil }

package testnet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// childAttr makes a node process die with the testnet: a testnet killed
// with SIGKILL leaves no orphans behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// signalled reports whether a process ended by a signal (which the
// testnet sent on close, or the terminal's Ctrl-C did).
func signalled(e *exec.ExitError) bool {
	ws, ok := e.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// processRSS returns the resident memory of process pid (VmRSS), 0 if it
// cannot be read.
func processRSS(pid int) int64 {
	return statusBytes(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
}

// SelfRSS returns the resident memory of this process and its peak
// (VmRSS and VmHWM), 0 where /proc cannot tell.
func SelfRSS() (now, peak int64) {
	return statusBytes("/proc/self/status", "VmRSS:"), statusBytes("/proc/self/status", "VmHWM:")
}

// statusBytes reads a "Key:   123 kB" line of a /proc status file.
func statusBytes(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		line := s.Bytes()
		if !bytes.HasPrefix(line, []byte(key)) {
			continue
		}
		f := bytes.Fields(line[len(key):])
		if len(f) < 1 {
			return 0
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// checkFDs makes sure the process may open the descriptors a testnet of n
// nodes needs, raising the soft limit towards the hard one: at full mesh
// n nodes in one process hold n(n-1) connection ends, plus listeners,
// databases and cache files.
func checkFDs(n int, processes bool) error {
	need := uint64(n*(n-1) + 64*n + 256)
	if processes {
		need = uint64(16*n + 256) // the children have their own limits
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // nothing to check against
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max >= need {
		lim.Cur = need
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
			return nil
		}
	}
	return fmt.Errorf("a testnet of %d nodes needs about %d file descriptors and this process may open %d (hard limit %d): raise the limit (ulimit -n) or use fewer nodes",
		n, need, lim.Cur, lim.Max)
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// superviseSelf starts a detached copy of this program that stops the cluster when the
// owner process exits, so a test binary killed by a timeout does not leak a cluster.
func superviseSelf(dir string, owner int, logDir string) (proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return proc{}, err
	}
	return startProc("supervisor", exe, logDir, nil, "supervise", "--dir="+dir, fmt.Sprintf("--owner-pid=%d", owner))
}

// supervise waits for the owner to exit (an event on its pidfd, no polling), then stops
// every process recorded for DIR. `down` ends the supervisor itself with SIGTERM.
func supervise(ctx context.Context, dir string, owner int) error {
	if owner <= 0 {
		return fmt.Errorf("supervise needs --owner-pid")
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", owner))
	if err != nil {
		return nil // already gone before we started: `up` failed or is failing
	}
	ownerProc := proc{Name: "owner", PID: owner, Exe: strings.TrimSuffix(exe, " (deleted)")}
	exited := make(chan struct{})
	go func() {
		for !waitExit(ownerProc, time.Hour) {
		}
		close(exited)
	}()
	select {
	case <-ctx.Done():
		return nil
	case <-exited:
	}
	unlock, err := lockState(dir)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := readState(dir)
	if err != nil {
		return nil // stopped by someone else
	}
	var others []proc
	for _, p := range s.Procs {
		if p.PID != os.Getpid() {
			others = append(others, p)
		}
	}
	stopProcs(others, 10*time.Second)
	_ = os.Remove(statePath(dir))
	_ = os.RemoveAll(filepath.Join(dir, "etcd"))
	return nil
}

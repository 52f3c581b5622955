package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// superviseSelf starts a detached copy of this program that stops the cluster when the
// owner process exits, so a test binary killed by a timeout does not leak a cluster.
func superviseSelf(dir string, owner int, logDir string) (proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return proc{}, err
	}
	return startProc("supervisor", exe, logDir, "supervise", "--dir="+dir, fmt.Sprintf("--owner-pid=%d", owner))
}

func supervise(ctx context.Context, dir string, owner int) error {
	if owner <= 0 {
		return fmt.Errorf("supervise needs --owner-pid")
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if syscall.Kill(owner, 0) == nil {
			if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
				continue
			}
			return nil // stopped by someone else
		}
		s, err := readState(dir)
		if err != nil {
			return nil
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
}

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTwoClustersSideBySide starts two clusters on different port bases, checks that a
// second `up` of a running cluster changes nothing, that a failed start reports the
// failing component, and that `down` stops exactly the recorded processes.
func TestTwoClustersSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real control planes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	components, err := filepath.Abs("components")
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	start := func(dir string, base int) *state {
		t.Helper()
		st, err := up(ctx, upOptions{Dir: dir, ComponentsDir: components, PortBase: base, Progress: &progress})
		if err != nil {
			t.Fatalf("up %s: %v\n%s", dir, err, progress.String())
		}
		t.Cleanup(func() { _ = down(dir, &progress) })
		return st
	}
	a := start(t.TempDir(), 34100)
	bDir := t.TempDir()
	b := start(bDir, 34110)
	for _, st := range []*state{a, b} {
		for _, p := range st.Procs {
			if !p.alive() {
				t.Fatalf("%s (pid %d) is not running", p.Name, p.PID)
			}
		}
	}

	// A second up of a running cluster says so and changes nothing.
	before, err := os.ReadFile(statePath(bDir))
	if err != nil {
		t.Fatal(err)
	}
	again, err := up(ctx, upOptions{Dir: bDir, ComponentsDir: components, PortBase: 34110, Progress: &progress})
	if !errors.Is(err, errAlreadyRunning) || again.Server != b.Server {
		t.Fatalf("second up: err = %v, want errAlreadyRunning for the same server", err)
	}
	after, _ := os.ReadFile(statePath(bDir))
	if !bytes.Equal(before, after) {
		t.Fatal("a second up rewrote the state of the running cluster")
	}

	// Ports in use: a clear error naming the port, and nothing left running.
	_, err = up(ctx, upOptions{Dir: t.TempDir(), ComponentsDir: components, PortBase: 34102, Progress: &progress})
	if err == nil || !strings.Contains(err.Error(), "is in use") {
		t.Fatalf("overlapping ports: err = %v", err)
	}

	// down stops b's processes and only those.
	if err := down(bDir, &progress); err != nil {
		t.Fatal(err)
	}
	for _, p := range b.Procs {
		if p.alive() {
			t.Fatalf("%s of the stopped cluster still runs", p.Name)
		}
	}
	for _, p := range a.Procs {
		if !p.alive() {
			t.Fatalf("%s of the other cluster was stopped too", p.Name)
		}
	}
}

// TestFailedStartStopsWhatItStartedAndShowsTheLog makes the API server exit at start
// (an unknown flag) and checks that the error names it with its log, and that etcd,
// started before it, was stopped.
func TestFailedStartStopsWhatItStartedAndShowsTheLog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	components, _ := filepath.Abs("components")
	dir := t.TempDir()
	var progress bytes.Buffer
	_, err := up(ctx, upOptions{Dir: dir, ComponentsDir: components, PortBase: 34120, Progress: &progress,
		ExtraArgs: map[string][]string{"kube-apiserver": {"--no-such-flag"}}})
	var cerr *componentError
	if !errors.As(err, &cerr) || cerr.Component != "kube-apiserver" || cerr.LogTail == "" {
		t.Fatalf("err = %v, want a kube-apiserver error with its log", err)
	}
	if _, err := os.Stat(statePath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed start left a state file")
	}
	if !strings.Contains(cerr.LogTail, "no-such-flag") {
		t.Fatalf("log tail does not show the cause:\n%s", cerr.LogTail)
	}
	// Nothing started for this directory still runs.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(dir)) {
			t.Fatalf("a process of the failed start still runs: %s", bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

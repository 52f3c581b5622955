package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testContext ends a minute before the test binary's own deadline (go test -timeout),
// so a slow machine fails with the component's log rather than a panic dump, and never
// earlier: there is no wall-clock bound of its own.
func testContext(t *testing.T) context.Context {
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Minute))
		t.Cleanup(cancel)
	}
	return ctx
}

// holdPort binds a free port below the ephemeral range and keeps it until the test ends.
func holdPort(t *testing.T) int {
	t.Helper()
	ps, err := pickPorts([]string{"held"}, nil, nil)
	for err == nil && ps["held"]+len(portNames) > maxPort {
		ps, err = pickPorts([]string{"held"}, nil, nil) // leave room for a --port-base at it
	}
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ps["held"]))
	if err != nil {
		t.Fatal(err) // taken between the probe and now: rare, and the test says so
	}
	t.Cleanup(func() { _ = l.Close() })
	return ps["held"]
}

// TestTwoClustersSideBySide starts two clusters on ports localcluster chooses, the
// second while its first choice for the API server's port is held by someone else (it
// must start again on other ports); checks that a second `up` of a running cluster
// changes nothing, that an explicit --port-base in use is refused with nothing started,
// that the API server can be stopped and started again, and that `down` stops exactly
// the recorded processes.
func TestTwoClustersSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real control planes")
	}
	ctx := testContext(t)
	components, err := filepath.Abs("components")
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	start := func(dir string, first portSet) *state {
		t.Helper()
		st, err := up(ctx, upOptions{Dir: dir, ComponentsDir: components, Progress: &progress, firstPorts: first})
		if err != nil {
			t.Fatalf("up %s: %v\n%s", dir, err, progress.String())
		}
		t.Cleanup(func() { _ = down(dir, &progress) })
		return st
	}
	aDir := t.TempDir()
	a := start(aDir, nil)

	held := holdPort(t)
	first, err := pickPorts(portNames, nil, map[int]bool{held: true})
	if err != nil {
		t.Fatal(err)
	}
	first["kube-apiserver"] = held
	bDir := t.TempDir()
	b := start(bDir, first)
	if !strings.Contains(progress.String(), "kube-apiserver found its port taken by another program; starting again on other ports") {
		t.Fatalf("the start on a taken port did not say it started again:\n%s", progress.String())
	}
	if b.Ports["kube-apiserver"] == held || a.Server == b.Server {
		t.Fatalf("ports: a %v, b %v, held %d", a.Ports, b.Ports, held)
	}
	for _, st := range []*state{a, b} {
		for name, p := range st.Ports {
			if p >= 32768 {
				t.Errorf("%s listens on %d, inside the ephemeral range", name, p)
			}
		}
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
	again, err := up(ctx, upOptions{Dir: bDir, ComponentsDir: components, Progress: &progress})
	if !errors.Is(err, errAlreadyRunning) || again.Server != b.Server {
		t.Fatalf("second up: err = %v, want errAlreadyRunning for the same server", err)
	}
	after, _ := os.ReadFile(statePath(bDir))
	if !bytes.Equal(before, after) {
		t.Fatal("a second up rewrote the state of the running cluster")
	}

	// An explicit --port-base whose ports are in use: a clear error naming the port, and
	// nothing started.
	cDir := t.TempDir()
	_, err = up(ctx, upOptions{Dir: cDir, ComponentsDir: components, PortBase: held, Progress: &progress})
	if err == nil || !strings.Contains(err.Error(), "port "+strconv.Itoa(held)+" is in use") {
		t.Fatalf("explicit ports in use: err = %v", err)
	}
	if _, err := os.Stat(statePath(cDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused start left a state file")
	}

	// The API server stops and starts again; the rest keeps running.
	api, err := newAPIClient(a.Server, pki{Dir: filepath.Join(aDir, "pki")})
	if err != nil {
		t.Fatal(err)
	}
	if err := stopComponent(aDir, "kube-apiserver", &progress); err != nil {
		t.Fatal(err)
	}
	st, _ := readState(aDir)
	for _, p := range st.Procs {
		if alive := p.alive(); alive == (p.Name == "kube-apiserver") {
			t.Fatalf("after stop-component kube-apiserver: %s alive=%v", p.Name, alive)
		}
	}
	if err := api.exists(ctx, "/api/v1/namespaces/default"); err == nil {
		t.Fatal("the stopped API server still answers")
	}
	if err := startComponent(ctx, aDir, "kube-apiserver", &progress); err != nil {
		t.Fatal(err)
	}
	if err := api.exists(ctx, "/api/v1/namespaces/default"); err != nil {
		t.Fatalf("the restarted API server does not answer: %v", err)
	}
	if err := stopComponent(aDir, "no-such-thing", &progress); err == nil || !strings.Contains(err.Error(), "choose from") {
		t.Fatalf("stopping an unknown component: %v", err)
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
	a, _ = readState(aDir)
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
	ctx := testContext(t)
	components, _ := filepath.Abs("components")
	dir := t.TempDir()
	var progress bytes.Buffer
	_, err := up(ctx, upOptions{Dir: dir, ComponentsDir: components, Progress: &progress,
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

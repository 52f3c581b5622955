package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// stopComponent stops one recorded process (SIGTERM, then SIGKILL after a grace
// period) and keeps its record, so that startComponent can start it again: a test can
// take the API server away in the middle of a rotation and bring it back.
func stopComponent(dir, name string, progress io.Writer) error {
	unlock, err := lockState(dir)
	if err != nil {
		return err
	}
	defer unlock()
	_, p, err := component(dir, name)
	if err != nil {
		return err
	}
	if !p.alive() {
		fmt.Fprintf(progress, "localcluster: %s is not running; nothing to stop\n", name)
		return nil
	}
	stopProcs([]proc{p}, 10*time.Second)
	fmt.Fprintf(progress, "localcluster: stopped %s (pid %d)\n", name, p.PID)
	return nil
}

// startComponent starts a stopped process again with its recorded command line,
// environment and log, and waits until it is ready.
func startComponent(ctx context.Context, dir, name string, progress io.Writer) error {
	unlock, err := lockState(dir)
	if err != nil {
		return err
	}
	defer unlock()
	st, p, err := component(dir, name)
	if err != nil {
		return err
	}
	if p.alive() {
		fmt.Fprintf(progress, "localcluster: %s runs already (pid %d); nothing changed\n", name, p.PID)
		return nil
	}
	np, err := startProc(p.Name, p.Exe, filepath.Dir(p.Log), p.Env, p.Args...)
	if err != nil {
		return err
	}
	np.Ready, np.Addon = p.Ready, p.Addon
	st.Procs[st.find(name)] = np
	if err := writeState(dir, st); err != nil {
		return err
	}
	if np.Ready != nil {
		api, err := newAPIClient(st.Server, pki{Dir: filepath.Join(dir, "pki")})
		if err != nil {
			return err
		}
		if err := waitFor(ctx, np, func(ctx context.Context) error { return api.ready(ctx, *np.Ready) }); err != nil {
			return err
		}
	}
	fmt.Fprintf(progress, "localcluster: started %s again (pid %d)\n", name, np.PID)
	return nil
}

func component(dir, name string) (*state, proc, error) {
	st, err := readState(dir)
	if err != nil {
		return nil, proc{}, fmt.Errorf("no cluster recorded in %s (%w)", dir, err)
	}
	i := st.find(name)
	if i < 0 || name == "supervisor" {
		var names []string
		for _, p := range st.Procs {
			if p.Name != "supervisor" {
				names = append(names, p.Name)
			}
		}
		return nil, proc{}, fmt.Errorf("no component %q in %s: choose from %v", name, dir, names)
	}
	return st, st.Procs[i], nil
}

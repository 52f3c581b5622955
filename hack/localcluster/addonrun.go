package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// ensureAddon starts an addon on the running cluster in dir unless it runs already.
// It is idempotent and holds the state lock, so many test packages can ask for the same
// addon at once and the run starts it once.
func ensureAddon(ctx context.Context, dir, componentsDir, name string, progress io.Writer) error {
	e, err := ensureAddonBuilt(ctx, componentsDir, name, progress)
	if err != nil {
		return err
	}
	unlock, err := lockState(dir)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := readState(dir)
	if err != nil {
		return fmt.Errorf("no cluster recorded in %s: start one with `localcluster up --dir %s` (%w)", dir, dir, err)
	}
	if i := st.find("kube-apiserver"); i < 0 || !st.Procs[i].alive() {
		return fmt.Errorf("the cluster in %s does not run (its kube-apiserver is down): start it with `localcluster up --dir %s`", dir, dir)
	}
	return startAddon(ctx, dir, st, e, progress)
}

// startAddon installs an addon's CRDs and namespaces and starts its processes,
// recording them in st (the caller holds the state lock). An addon whose processes all
// run already is left alone.
func startAddon(ctx context.Context, dir string, st *state, e addonEntry, progress io.Writer) error {
	a := e.addon
	running, has := true, false
	for _, p := range st.Procs {
		if p.Addon == a.name {
			has = true
			running = running && p.alive()
		}
	}
	if has && running {
		return nil
	}
	// Whatever is left of an earlier start of it goes first.
	var keep, stale []proc
	for _, p := range st.Procs {
		if p.Addon == a.name {
			stale = append(stale, p)
		} else {
			keep = append(keep, p)
		}
	}
	stopProcs(stale, 10*time.Second)
	st.Procs = keep

	api, err := newAPIClient(st.Server, pki{Dir: filepath.Join(dir, "pki")})
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "localcluster: installing the CRDs of %s\n", a.name)
	if err := installCRDs(ctx, api, e.crds(), a.namespaces); err != nil {
		return fmt.Errorf("addon %s: %w", a.name, err)
	}
	logDir := filepath.Join(dir, "logs")
	for _, d := range append([]string{""}, a.dirs...) {
		if err := os.MkdirAll(filepath.Join(dir, "addons", a.name, d), 0o755); err != nil {
			return err
		}
	}
	if st.Ports == nil {
		st.Ports = map[string]int{}
	}
	for attempt := 1; ; attempt++ {
		taken := st.portsInUse()
		ports, err := pickPorts(a.ports, a.wide, taken)
		if err != nil {
			return err
		}
		run := addonRun{entry: e, dir: dir, kubeconfig: st.Kubeconfig, ports: ports}
		started, err := startProcs(ctx, api, dir, st, a.name, a.procs(run), logDir)
		if err == nil {
			if !slices.Contains(st.Addons, a.name) {
				st.Addons = append(st.Addons, a.name)
			}
			for name, port := range ports {
				st.Ports[a.name+"/"+name] = port
			}
			fmt.Fprintf(progress, "localcluster: addon %s runs\n", a.name)
			return writeState(dir, st)
		}
		stopProcs(started, 10*time.Second)
		st.Procs = slices.DeleteFunc(st.Procs, func(p proc) bool { return p.Addon == a.name })
		_ = writeState(dir, st)
		if !errors.Is(err, errPortInUse) || attempt >= maxStartAttempts {
			return err
		}
		fmt.Fprintf(progress, "localcluster: addon %s found a port taken by another program; starting it again on other ports\n", a.name)
	}
}

// startProcs starts an addon's processes one after another, each ready before the next.
func startProcs(ctx context.Context, api *apiClient, dir string, st *state, addonName string, specs []procSpec, logDir string) ([]proc, error) {
	var started []proc
	for _, s := range specs {
		p, err := startProc(s.name, s.bin, logDir, s.env, s.args...)
		if err != nil {
			return started, err
		}
		p.Ready, p.Addon = s.ready, addonName
		started = append(started, p)
		st.Procs = append(st.Procs, p)
		if err := writeState(dir, st); err != nil {
			return started, err
		}
		if s.ready != nil {
			if err := waitFor(ctx, p, func(ctx context.Context) error { return api.ready(ctx, *s.ready) }); err != nil {
				return started, err
			}
		}
	}
	return started, nil
}

// portsInUse are the ports the cluster's state records.
func (s *state) portsInUse() map[int]bool {
	return portSet(s.Ports).values()
}

// installCRDs creates the namespaces, applies every CRD in dir server-side (some are
// too large for a client-side apply's annotation) and waits until all are Established.
func installCRDs(ctx context.Context, api *apiClient, dir string, namespaces []string) error {
	for _, ns := range namespaces {
		if err := api.apply(ctx, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}); err != nil {
			return err
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for i, doc := range splitYAML(string(data)) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return fmt.Errorf("%s, document %d: %w", f, i+1, err)
			}
			if len(obj) == 0 {
				continue
			}
			if err := api.apply(ctx, obj); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if meta, ok := obj["metadata"].(map[string]any); ok && obj["kind"] == "CustomResourceDefinition" {
				names = append(names, fmt.Sprint(meta["name"]))
			}
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no CRDs found in %s", dir)
	}
	return api.waitEstablished(ctx, names)
}

// splitYAML splits a multi-document YAML stream at its `---` lines.
func splitYAML(s string) []string {
	var docs []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if t := strings.TrimRight(line, " \t\r\n"); t == "---" || strings.HasPrefix(t, "--- ") {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.String())
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// upOptions configure one start.
type upOptions struct {
	Dir           string
	ComponentsDir string
	// PortBase, when not 0, is an explicit first port of five consecutive ones (no retry).
	// Otherwise localcluster chooses free ports itself and retries on a conflict.
	PortBase int
	OwnerPID int
	Progress io.Writer
	// ExtraArgs are appended to a component's command line, by component name.
	ExtraArgs map[string][]string
	// Addons are started after the control plane (see addons.go).
	Addons []string
	// firstPorts, for tests, replaces the first attempt's choice (unprobed).
	firstPorts portSet
}

// errAlreadyRunning is returned (with the running state) when DIR already has a live
// cluster: `up` then changes nothing.
var errAlreadyRunning = errors.New("already running")

func up(ctx context.Context, o upOptions) (*state, error) {
	unlock, err := lockState(o.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if s, err := readState(o.Dir); err == nil {
		for _, p := range s.Procs {
			if p.alive() {
				return s, errAlreadyRunning
			}
		}
	}
	entry, err := ensureBuilt(ctx, o.ComponentsDir, o.Progress)
	if err != nil {
		return nil, err
	}
	var addonEntries []addonEntry
	for _, name := range o.Addons {
		e, err := ensureAddonBuilt(ctx, o.ComponentsDir, name, o.Progress)
		if err != nil {
			return nil, err
		}
		addonEntries = append(addonEntries, e)
	}
	for attempt := 1; ; attempt++ {
		var pt portSet
		switch {
		case o.PortBase != 0:
			pt, err = portsFromBase(o.PortBase)
		case attempt == 1 && o.firstPorts != nil:
			pt = o.firstPorts
		default:
			pt, err = pickPorts(portNames, nil, nil)
		}
		if err != nil {
			return nil, err
		}
		st, err := startOnce(ctx, o, entry, pt)
		if err == nil {
			for _, e := range addonEntries {
				if err := startAddon(ctx, o.Dir, st, e, o.Progress); err != nil {
					stopProcs(st.Procs, 10*time.Second)
					_ = os.Remove(statePath(o.Dir))
					return nil, err
				}
			}
			return st, nil
		}
		if o.PortBase != 0 || !errors.Is(err, errPortInUse) || attempt >= maxStartAttempts {
			return nil, err
		}
		var ce *componentError
		what := "a component"
		if errors.As(err, &ce) {
			what = ce.Component
		}
		fmt.Fprintf(o.Progress, "localcluster: %s found its port taken by another program; starting again on other ports (attempt %d of %d)\n",
			what, attempt+1, maxStartAttempts)
	}
}

// startOnce starts the control plane on the given ports. On failure it stops what it
// started and leaves no state file.
func startOnce(ctx context.Context, o upOptions, entry cacheEntry, pt portSet) (*state, error) {
	// Fresh state each start: a reused etcd data dir would carry old objects.
	for _, sub := range []string{"pki", "etcd", "logs", "run", "addons"} {
		_ = os.RemoveAll(filepath.Join(o.Dir, sub))
	}
	_ = os.Remove(statePath(o.Dir))
	logDir := filepath.Join(o.Dir, "logs")
	runDir := filepath.Join(o.Dir, "run")
	for _, d := range []string{logDir, runDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	certs := pki{Dir: filepath.Join(o.Dir, "pki")}
	if err := certs.generate(); err != nil {
		return nil, fmt.Errorf("generating certificates: %w", err)
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", pt["kube-apiserver"])
	kubeconfig := filepath.Join(o.Dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, certs, server); err != nil {
		return nil, err
	}

	st := &state{Ports: pt, Server: server, Kubeconfig: kubeconfig, Started: time.Now().UTC().Format(time.RFC3339)}
	started := time.Now()
	ok := false
	defer func() {
		if !ok {
			stopProcs(st.Procs, 5*time.Second)
			_ = os.Remove(statePath(o.Dir))
		}
	}()
	api, err := newAPIClient(server, certs)
	if err != nil {
		return nil, err
	}
	start := func(name string, ready *readiness, args ...string) (proc, error) {
		args = append(args, o.ExtraArgs[name]...)
		p, err := startProc(name, entry.bin(name), logDir, nil, args...)
		if err != nil {
			return p, err
		}
		p.Ready = ready
		st.Procs = append(st.Procs, p)
		// Record as we go: a crash of `up` itself still leaves `down` able to stop these.
		if err := writeState(o.Dir, st); err != nil {
			return p, err
		}
		if ready == nil {
			return p, nil
		}
		return p, waitFor(ctx, p, func(ctx context.Context) error { return api.ready(ctx, *ready) })
	}

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", pt["etcd-client"])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", pt["etcd-peer"])
	fmt.Fprintf(o.Progress, "localcluster: starting etcd on %s\n", etcdURL)
	if _, err := start("etcd", &readiness{URL: etcdURL + "/health", Client: "plain"},
		"--name=local", "--data-dir="+filepath.Join(o.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=local="+peerURL,
		"--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return nil, err
	}

	fmt.Fprintf(o.Progress, "localcluster: starting kube-apiserver on %s\n", server)
	apiserver, err := start("kube-apiserver", &readiness{URL: server + "/readyz", Client: "admin"},
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", pt["kube-apiserver"]),
		"--endpoint-reconciler-type=none",
		"--tls-cert-file="+certs.ServingCert(), "--tls-private-key-file="+certs.ServingKey(),
		"--client-ca-file="+certs.CACert(),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+certs.SAPub(),
		"--service-account-signing-key-file="+certs.SAKey(),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		"--profiling=false",
		"--cert-dir="+filepath.Join(runDir, "apiserver"))
	if err != nil {
		return nil, err
	}

	fmt.Fprintf(o.Progress, "localcluster: starting kube-controller-manager and kube-scheduler\n")
	kcmPort, schedPort := pt["kube-controller-manager"], pt["kube-scheduler"]
	kcm, err := start("kube-controller-manager", &readiness{URL: fmt.Sprintf("https://127.0.0.1:%d/healthz", kcmPort), Client: "insecure"},
		"--kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", kcmPort),
		"--leader-elect=false", "--controllers=*",
		"--service-account-private-key-file="+certs.SAKey(), "--root-ca-file="+certs.CACert(),
		"--kube-api-qps=500", "--kube-api-burst=1000",
		"--cert-dir="+filepath.Join(runDir, "controller-manager"))
	if err != nil {
		return nil, err
	}
	if _, err := start("kube-scheduler", &readiness{URL: fmt.Sprintf("https://127.0.0.1:%d/healthz", schedPort), Client: "insecure"},
		"--kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", schedPort),
		"--leader-elect=false", "--cert-dir="+filepath.Join(runDir, "scheduler")); err != nil {
		return nil, err
	}

	fmt.Fprintf(o.Progress, "localcluster: installing kwok stages and starting kwok\n")
	if err := api.installStages(ctx, entry.share("stage-crd.yaml"), entry.share("stages.yaml")); err != nil {
		return nil, &componentError{Component: "kwok stages", Err: err, LogTail: tail(apiserver.Log, 20)}
	}
	// kwok serves no port here: its optional server (logs, exec) is not needed.
	kwok, err := start("kwok", nil,
		"--kubeconfig="+kubeconfig,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-lease-duration-seconds=40",
		"--enable-crds=Stage",
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1")
	if err != nil {
		return nil, err
	}
	if err := api.createNode(ctx, "kwok-node-0"); err != nil {
		return nil, &componentError{Component: "node", Err: err}
	}
	if err := waitFor(ctx, kwok, func(ctx context.Context) error { return api.nodeReady(ctx, "kwok-node-0") }); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, kcm, func(ctx context.Context) error {
		return api.exists(ctx, "/api/v1/namespaces/default/serviceaccounts/default")
	}); err != nil {
		return nil, err
	}
	if o.OwnerPID > 0 {
		sup, err := superviseSelf(o.Dir, o.OwnerPID, logDir)
		if err != nil {
			return nil, err
		}
		st.Procs = append(st.Procs, sup)
	}
	if err := writeState(o.Dir, st); err != nil {
		return nil, err
	}
	ok = true
	fmt.Fprintf(o.Progress, "localcluster: ready in %s; KUBECONFIG=%s\n", time.Since(started).Round(100*time.Millisecond), kubeconfig)
	return st, nil
}

// waitFor checks until check succeeds, the process exits (fail fast), its log shows that
// its port was taken, or ctx ends. There is no event to wait on for a component's
// health endpoint, so it asks again, less often as time goes by (at most every second).
func waitFor(ctx context.Context, p proc, check func(context.Context) error) error {
	var last error
	interval := 50 * time.Millisecond
	for {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		if logSays(p.Log, portConflictText) {
			return &componentError{Component: p.Name, Err: fmt.Errorf("%w: %w", errPortInUse, last), LogTail: tail(p.Log, 20)}
		}
		if !p.alive() {
			return &componentError{Component: p.Name, Err: errExited, LogTail: tail(p.Log, 20)}
		}
		select {
		case <-ctx.Done():
			return &componentError{Component: p.Name, Err: fmt.Errorf("not ready when the wait ended (%w): %w", ctx.Err(), last), LogTail: tail(p.Log, 20)}
		case <-time.After(interval):
		}
		interval = min(2*interval, time.Second)
	}
}

// down stops exactly the processes recorded for DIR.
func down(dir string, progress io.Writer) error {
	unlock, err := lockState(dir)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := readState(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(progress, "localcluster: no cluster recorded in %s; nothing to stop\n", dir)
		return nil
	}
	if err != nil {
		return err
	}
	stopProcs(s.Procs, 10*time.Second)
	if err := os.Remove(statePath(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	_ = os.RemoveAll(filepath.Join(dir, "etcd"))
	fmt.Fprintf(progress, "localcluster: stopped (%d processes)\n", len(s.Procs))
	return nil
}

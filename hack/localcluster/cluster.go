package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ports are derived from one base so several clusters can run side by side.
type ports struct{ base int }

func (p ports) etcdClient() int        { return p.base }
func (p ports) etcdPeer() int          { return p.base + 1 }
func (p ports) apiserver() int         { return p.base + 2 }
func (p ports) controllerManager() int { return p.base + 3 }
func (p ports) scheduler() int         { return p.base + 4 }
func (p ports) kwok() int              { return p.base + 5 }
func (p ports) all() []int {
	return []int{p.base, p.base + 1, p.base + 2, p.base + 3, p.base + 4, p.base + 5}
}

// upOptions configure one start.
type upOptions struct {
	Dir           string
	ComponentsDir string
	PortBase      int
	OwnerPID      int
	Progress      io.Writer
	// ExtraArgs are appended to a component's command line, by component name.
	ExtraArgs map[string][]string
}

// errAlreadyRunning is returned (with the running state) when DIR already has a live
// cluster: `up` then changes nothing.
var errAlreadyRunning = errors.New("already running")

func up(ctx context.Context, o upOptions) (*state, error) {
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
	pt := ports{base: o.PortBase}
	for _, port := range pt.all() {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return nil, fmt.Errorf("port %d is in use (ports %d-%d are needed): choose another --port-base", port, pt.base, pt.base+5)
		}
		_ = l.Close()
	}

	// Fresh state each start: a reused etcd data dir would carry old objects.
	for _, sub := range []string{"pki", "etcd", "logs", "run"} {
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
	server := fmt.Sprintf("https://127.0.0.1:%d", pt.apiserver())
	kubeconfig := filepath.Join(o.Dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, certs, server); err != nil {
		return nil, err
	}

	st := &state{PortBase: pt.base, Server: server, Kubeconfig: kubeconfig, Started: time.Now().UTC().Format(time.RFC3339)}
	started := time.Now()
	ok := false
	defer func() {
		if !ok {
			stopProcs(st.Procs, 5*time.Second)
			_ = os.Remove(statePath(o.Dir))
		}
	}()
	start := func(name string, args ...string) (proc, error) {
		args = append(args, o.ExtraArgs[name]...)
		p, err := startProc(name, entry.bin(name), logDir, args...)
		if err != nil {
			return p, err
		}
		st.Procs = append(st.Procs, p)
		// Record as we go: a crash of `up` itself still leaves `down` able to stop these.
		return p, writeState(o.Dir, st)
	}
	api, err := newAPIClient(server, certs)
	if err != nil {
		return nil, err
	}

	fmt.Fprintf(o.Progress, "localcluster: starting etcd on 127.0.0.1:%d\n", pt.etcdClient())
	etcd, err := start("etcd",
		"--name=local", "--data-dir="+filepath.Join(o.Dir, "etcd"),
		fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", pt.etcdClient()),
		fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", pt.etcdClient()),
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", pt.etcdPeer()),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", pt.etcdPeer()),
		fmt.Sprintf("--initial-cluster=local=http://127.0.0.1:%d", pt.etcdPeer()),
		"--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, etcd, 30*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, api.plain, fmt.Sprintf("http://127.0.0.1:%d/health", pt.etcdClient()))
	}); err != nil {
		return nil, err
	}

	fmt.Fprintf(o.Progress, "localcluster: starting kube-apiserver on %s\n", server)
	apiserver, err := start("kube-apiserver",
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", pt.etcdClient()),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", pt.apiserver()),
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
	if err := waitFor(ctx, apiserver, 60*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, api.client, server+"/readyz")
	}); err != nil {
		return nil, err
	}

	fmt.Fprintf(o.Progress, "localcluster: starting kube-controller-manager and kube-scheduler\n")
	kcm, err := start("kube-controller-manager",
		"--kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", pt.controllerManager()),
		"--leader-elect=false", "--controllers=*",
		"--service-account-private-key-file="+certs.SAKey(), "--root-ca-file="+certs.CACert(),
		"--kube-api-qps=500", "--kube-api-burst=1000",
		"--cert-dir="+filepath.Join(runDir, "controller-manager"))
	if err != nil {
		return nil, err
	}
	sched, err := start("kube-scheduler",
		"--kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", pt.scheduler()),
		"--leader-elect=false", "--cert-dir="+filepath.Join(runDir, "scheduler"))
	if err != nil {
		return nil, err
	}
	for _, c := range []struct {
		p    proc
		port int
	}{{kcm, pt.controllerManager()}, {sched, pt.scheduler()}} {
		url := fmt.Sprintf("https://127.0.0.1:%d/healthz", c.port)
		if err := waitFor(ctx, c.p, 60*time.Second, func(ctx context.Context) error {
			return httpOK(ctx, api.insecure, url)
		}); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(o.Progress, "localcluster: installing kwok stages and starting kwok\n")
	if err := api.installStages(ctx, entry.share("stage-crd.yaml"), entry.share("stages.yaml")); err != nil {
		return nil, &componentError{Component: "kwok stages", Err: err, LogTail: tail(apiserver.Log, 20)}
	}
	kwok, err := start("kwok",
		"--kubeconfig="+kubeconfig,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-lease-duration-seconds=40",
		"--enable-crds=Stage",
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1",
		fmt.Sprintf("--server-address=127.0.0.1:%d", pt.kwok()))
	if err != nil {
		return nil, err
	}
	if err := api.createNode(ctx, "kwok-node-0"); err != nil {
		return nil, &componentError{Component: "node", Err: err}
	}
	if err := waitFor(ctx, kwok, 60*time.Second, func(ctx context.Context) error {
		return api.nodeReady(ctx, "kwok-node-0")
	}); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, kcm, 60*time.Second, func(ctx context.Context) error {
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

// waitFor polls check until it succeeds, the process exits (fail fast), or the timeout.
func waitFor(ctx context.Context, p proc, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		if !p.alive() {
			return &componentError{Component: p.Name, Err: errExited, LogTail: tail(p.Log, 20)}
		}
		select {
		case <-ctx.Done():
			return &componentError{Component: p.Name, Err: fmt.Errorf("not ready after %s: %w", timeout, last), LogTail: tail(p.Log, 20)}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// down stops exactly the processes recorded for DIR.
func down(dir string, progress io.Writer) error {
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

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// An addon is an optional controller that runs as a local process against the control
// plane: Argo Rollouts, External Secrets Operator, Flux. Each is built from the Go
// module proxy into the binary cache (keyed by version), has its CRDs applied
// server-side, runs on ports chosen like the control plane's, is recorded in the state
// file and stops with the cluster. Versions and recipes: ../shared docs
// argo-rollouts-in-tests.md, external-secrets-in-tests.md and gitops-in-tests.md.
type addon struct {
	name, version string
	// module is the wrapper module under components/addons, if the addon has one: its
	// go.mod and go.sum are part of the cache key.
	module string
	// build writes the binaries into out/bin and the CRD manifests into out/crds.
	build func(ctx context.Context, b addonBuild) error
	// namespaces are created before the addon starts.
	namespaces []string
	// dirs are directories under the addon's state directory created before it starts.
	dirs []string
	// ports names the ports the addon listens on; wide ones bind every interface.
	ports []string
	wide  map[string]bool
	// procs are the processes to start, in order.
	procs func(r addonRun) []procSpec
}

// procSpec is one process of an addon.
type procSpec struct {
	name, bin string
	args, env []string
	ready     *readiness
}

// addonRun is what an addon's processes are configured from.
type addonRun struct {
	entry      addonEntry
	dir        string // the cluster's state directory
	kubeconfig string
	ports      portSet
}

func (r addonRun) addr(port string) string { return fmt.Sprintf("127.0.0.1:%d", r.ports[port]) }

var addons = map[string]*addon{
	"argo-rollouts": {
		name: "argo-rollouts", version: "v1.10.1",
		build: func(ctx context.Context, b addonBuild) error {
			dir, err := goModDownload(ctx, "github.com/argoproj/argo-rollouts", "v1.10.1")
			if err != nil {
				return err
			}
			// Its replace directives are all module-to-module, so it builds in place.
			if err := b.goBuild(ctx, dir, "argo-rollouts v1.10.1", "rollouts-controller", "./cmd/rollouts-controller"); err != nil {
				return err
			}
			// Only the *-crd.yaml files: the folder's kustomization.yaml is no manifest.
			return b.copyCRDs(dir, "manifests/crds/*-crd.yaml")
		},
		// Argo Rollouts has no bind-address flag: its two ports bind every interface.
		ports: []string{"healthz", "metrics"},
		wide:  map[string]bool{"healthz": true, "metrics": true},
		procs: func(r addonRun) []procSpec {
			return []procSpec{{
				name: "argo-rollouts", bin: r.entry.bin("rollouts-controller"),
				args: []string{"--kubeconfig=" + r.kubeconfig, "--leader-elect=false",
					fmt.Sprintf("--healthzPort=%d", r.ports["healthz"]), fmt.Sprintf("--metricsPort=%d", r.ports["metrics"])},
				ready: &readiness{URL: "http://" + r.addr("healthz") + "/healthz", Client: "plain"},
			}}
		},
	},
	"external-secrets": {
		name: "external-secrets", version: "v0.16.2", module: "addons/external-secrets",
		build: func(ctx context.Context, b addonBuild) error {
			wrapper := filepath.Join(b.componentsDir, "addons", "external-secrets")
			if err := b.goBuild(ctx, wrapper, "external-secrets v0.16.2", "external-secrets", "."); err != nil {
				return err
			}
			dir, err := goListModuleDir(ctx, wrapper, "github.com/external-secrets/external-secrets")
			if err != nil {
				return err
			}
			return b.copyCRDs(dir, "deploy/crds/bundle.yaml")
		},
		ports: []string{"metrics"},
		procs: func(r addonRun) []procSpec {
			// No --kubeconfig flag: it reads KUBECONFIG. The root command is the core
			// controller only (no webhook, no certificates), leader election off.
			return []procSpec{{
				name: "external-secrets", bin: r.entry.bin("external-secrets"),
				args:  []string{"--metrics-addr=" + r.addr("metrics"), "--loglevel=info"},
				env:   []string{"KUBECONFIG=" + r.kubeconfig},
				ready: &readiness{URL: "http://" + r.addr("metrics") + "/metrics", Client: "plain"},
			}}
		},
	},
	"flux": {
		name: "flux", version: "v1.9.6",
		build: func(ctx context.Context, b addonBuild) error {
			for _, ctrl := range []string{"source-controller", "kustomize-controller"} {
				if err := b.fluxController(ctx, ctrl, "v1.9.6"); err != nil {
					return err
				}
			}
			return nil
		},
		namespaces: []string{"flux-system"},
		// source-controller refuses a --storage-path that does not exist.
		dirs:  []string{"storage"},
		ports: []string{"storage", "source-metrics", "source-health", "kustomize-metrics", "kustomize-health"},
		procs: func(r addonRun) []procSpec {
			env := []string{"KUBECONFIG=" + r.kubeconfig, "RUNTIME_NAMESPACE=flux-system"}
			return []procSpec{{
				name: "flux-source-controller", bin: r.entry.bin("source-controller"), env: env,
				args: []string{"--storage-path=" + filepath.Join(r.dir, "addons", "flux", "storage"),
					"--storage-addr=" + r.addr("storage"), "--storage-adv-addr=" + r.addr("storage"),
					"--events-addr=", "--metrics-addr=" + r.addr("source-metrics"),
					"--health-addr=" + r.addr("source-health"), "--enable-leader-election=false"},
				ready: &readiness{URL: "http://" + r.addr("source-health") + "/readyz", Client: "plain"},
			}, {
				name: "flux-kustomize-controller", bin: r.entry.bin("kustomize-controller"), env: env,
				args: []string{"--events-addr=", "--metrics-addr=" + r.addr("kustomize-metrics"),
					"--health-addr=" + r.addr("kustomize-health"), "--enable-leader-election=false"},
				ready: &readiness{URL: "http://" + r.addr("kustomize-health") + "/readyz", Client: "plain"},
			}}
		},
	},
}

// addonNames lists the known addons, sorted.
func addonNames() []string {
	var out []string
	for n := range addons {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// parseAddons reads a list like "argo-rollouts,flux" (commas or spaces).
func parseAddons(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if addons[n] == nil {
			return nil, fmt.Errorf("unknown addon %q: choose from %s", n, strings.Join(addonNames(), ", "))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

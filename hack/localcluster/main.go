// Command localcluster builds, starts and stops a real local Kubernetes control plane
// for rotor's tests and demo: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built from the Go module proxy, and kwok as the fake kubelet with its
// Stage CRD enabled; optionally addons (Argo Rollouts, External Secrets Operator, Flux)
// run as local processes against it. Built binaries are cached outside the repository,
// keyed by version. Every port lies below the kernel's ephemeral range and is chosen
// here (a start that meets a port taken meanwhile starts again on other ports).
//
//	localcluster build [--addons A,B]             build (or find cached) binaries
//	localcluster bin                              print the directory of the binaries
//	localcluster up   --dir DIR [--addons A,B]    start; writes DIR/kubeconfig
//	                  [--owner-pid PID]           stop it when PID exits
//	                  [--port-base N]             explicit ports N..N+4 (below 32768)
//	                  [--extra-arg C=ARG]         extra flag for component C
//	                  [--timeout D]               give up a start after D
//	localcluster addons --dir DIR --ensure A      start addon A unless it runs
//	localcluster stop-component  --dir DIR NAME   stop one component, keep its record
//	localcluster start-component --dir DIR NAME   start it again, wait until ready
//	localcluster down --dir DIR                   stop exactly the recorded processes
//	localcluster status --dir DIR                 say what runs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: localcluster build|bin|up|addons|stop-component|start-component|down|status [flags]")
	}
	fs := flag.NewFlagSet("localcluster "+args[0], flag.ContinueOnError)
	dir := fs.String("dir", ".localcluster", "state directory: kubeconfig, logs, PIDs")
	components := fs.String("components", "components", "directory of the component modules")
	portBase := fs.Int("port-base", 0, "explicit first of five consecutive loopback ports, below 32768 (default: chosen free ports)")
	ownerPID := fs.Int("owner-pid", 0, "stop the cluster when this process exits (for test runs)")
	addonList := fs.String("addons", "", "addons to build or start, comma-separated: "+strings.Join(addonNames(), ", "))
	ensure := fs.String("ensure", "", "addons: the addon to start unless it runs")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up a start (not a build) that is not ready after this long")
	extra := map[string][]string{}
	fs.Func("extra-arg", "COMPONENT=--flag=value appended to a component's command line; repeatable", func(s string) error {
		name, arg, ok := strings.Cut(s, "=")
		if !ok || !slices.Contains(binaries, name) {
			return fmt.Errorf("want COMPONENT=ARG with COMPONENT one of %v", binaries)
		}
		extra[name] = append(extra[name], arg)
		return nil
	})
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	absDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	absComponents, err := filepath.Abs(*components)
	if err != nil {
		return err
	}
	wanted, err := parseAddons(*addonList)
	if err != nil {
		return err
	}
	// A deadline for starts only: builds take as long as they take (with progress).
	startCtx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, *timeout) }
	switch args[0] {
	case "build":
		for _, a := range wanted {
			if _, err := ensureAddonBuilt(ctx, absComponents, a, os.Stderr); err != nil {
				return err
			}
		}
		entry, err := ensureBuilt(ctx, absComponents, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Println(entry.Dir)
		return nil
	case "bin":
		// Prints the directory of the cached binaries (kubectl among them), building
		// them first if needed: PATH="$(localcluster bin):$PATH".
		entry, err := ensureBuilt(ctx, absComponents, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Println(filepath.Join(entry.Dir, "bin"))
		return nil
	case "up":
		// Builds first, outside the start's deadline.
		if _, err := ensureBuilt(ctx, absComponents, os.Stderr); err != nil {
			return err
		}
		for _, a := range wanted {
			if _, err := ensureAddonBuilt(ctx, absComponents, a, os.Stderr); err != nil {
				return err
			}
		}
		sctx, cancel := startCtx()
		defer cancel()
		st, err := up(sctx, upOptions{Dir: absDir, ComponentsDir: absComponents, PortBase: *portBase, OwnerPID: *ownerPID,
			Progress: os.Stderr, ExtraArgs: extra, Addons: wanted})
		if errors.Is(err, errAlreadyRunning) {
			fmt.Fprintf(os.Stderr, "localcluster: already running at %s (started %s); nothing changed. Stop it with: localcluster down --dir %s\n", st.Server, st.Started, *dir)
			for _, a := range wanted {
				if err := ensureAddon(sctx, absDir, absComponents, a, os.Stderr); err != nil {
					return err
				}
			}
			fmt.Println(st.Kubeconfig)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Println(st.Kubeconfig)
		return nil
	case "addons":
		if *ensure == "" {
			return errors.New("addons: give --ensure NAME, one of " + strings.Join(addonNames(), ", "))
		}
		names, err := parseAddons(*ensure)
		if err != nil {
			return err
		}
		for _, a := range names {
			if _, err := ensureAddonBuilt(ctx, absComponents, a, os.Stderr); err != nil {
				return err
			}
		}
		sctx, cancel := startCtx()
		defer cancel()
		for _, a := range names {
			if err := ensureAddon(sctx, absDir, absComponents, a, os.Stderr); err != nil {
				return err
			}
		}
		return nil
	case "stop-component", "start-component":
		if fs.NArg() != 1 {
			return fmt.Errorf("%s: name one component, e.g. kube-apiserver", args[0])
		}
		if args[0] == "stop-component" {
			return stopComponent(absDir, fs.Arg(0), os.Stderr)
		}
		sctx, cancel := startCtx()
		defer cancel()
		return startComponent(sctx, absDir, fs.Arg(0), os.Stderr)
	case "down":
		return down(absDir, os.Stderr)
	case "status":
		st, err := readState(absDir)
		if err != nil {
			return fmt.Errorf("no cluster recorded in %s", absDir)
		}
		for _, p := range st.Procs {
			s := "running"
			if !p.alive() {
				s = "NOT running"
			}
			fmt.Printf("%-26s pid %-8d %s\n", p.Name, p.PID, s)
		}
		fmt.Printf("server %s\nkubeconfig %s\n", st.Server, st.Kubeconfig)
		return nil
	case "supervise":
		return supervise(ctx, absDir, *ownerPID)
	default:
		return fmt.Errorf("unknown command %q: use build, bin, up, addons, stop-component, start-component, down or status", args[0])
	}
}

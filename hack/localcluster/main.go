// Command localcluster builds, starts and stops a real local Kubernetes control plane
// for rotor's tests and demo: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built from the Go module proxy, and kwok as the fake kubelet with its
// Stage CRD enabled. Built binaries are cached outside the repository, keyed by version.
//
//	localcluster build                          build (or find cached) binaries
//	localcluster bin                            print the directory of the binaries
//	localcluster up   --dir DIR [--port-base N] start; writes DIR/kubeconfig
//	                  [--owner-pid PID]         stop it when PID exits
//	                  [--extra-arg C=ARG]       extra flag for component C
//	localcluster down --dir DIR                 stop exactly the recorded processes
//	localcluster status --dir DIR               say whether it runs
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
		return errors.New("usage: localcluster build|up|down|status [flags]")
	}
	fs := flag.NewFlagSet("localcluster "+args[0], flag.ContinueOnError)
	dir := fs.String("dir", ".localcluster", "state directory: kubeconfig, logs, PIDs")
	components := fs.String("components", "components", "directory of the component modules")
	portBase := fs.Int("port-base", 31000, "first of six consecutive loopback ports")
	ownerPID := fs.Int("owner-pid", 0, "stop the cluster when this process exits (for test runs)")
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
	switch args[0] {
	case "build":
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
		if err := os.MkdirAll(absDir, 0o755); err != nil {
			return err
		}
		st, err := up(ctx, upOptions{Dir: absDir, ComponentsDir: absComponents, PortBase: *portBase, OwnerPID: *ownerPID, Progress: os.Stderr, ExtraArgs: extra})
		if errors.Is(err, errAlreadyRunning) {
			fmt.Fprintf(os.Stderr, "localcluster: already running at %s (started %s); nothing changed. Stop it with: localcluster down --dir %s\n", st.Server, st.Started, *dir)
			fmt.Println(st.Kubeconfig)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Println(st.Kubeconfig)
		return nil
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
			fmt.Printf("%-24s pid %-8d %s\n", p.Name, p.PID, s)
		}
		fmt.Printf("server %s\nkubeconfig %s\n", st.Server, st.Kubeconfig)
		return nil
	case "supervise":
		return supervise(ctx, absDir, *ownerPID)
	default:
		return fmt.Errorf("unknown command %q: use build, up, down or status", args[0])
	}
}

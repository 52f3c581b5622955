// Command refs measures `rotor refs NAME -A` against the runbook's pipeline
// (`kubectl get <seven kinds> -A -o yaml | grep NAME`) and against merely fetching the
// seven lists (`kubectl get --raw` each), over the population of bench/population, in
// the same run. It prints a Markdown table of wall times and peak RSS (median of
// --runs). `make bench-refs` runs it on a throw-away local control plane; see
// bench/README.md for the recorded figures.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rotor-project/rotor/bench/pagecache"
	"github.com/rotor-project/rotor/bench/population"
)

var sevenKinds = []string{
	"/apis/apps/v1/deployments", "/apis/apps/v1/statefulsets", "/apis/apps/v1/daemonsets", "/apis/apps/v1/replicasets",
	"/apis/batch/v1/cronjobs", "/apis/batch/v1/jobs", "/api/v1/pods",
}

// otherLists are the further lists `rotor refs -A` reads (the kinds registry's other
// built-in kinds, and Helm's release history): with the seven, the same lists rotor
// fetches. CRD kinds are not served by the bench cluster.
var otherLists = []string{
	"/apis/apps/v1/controllerrevisions", "/api/v1/replicationcontrollers", "/api/v1/podtemplates", "/api/v1/serviceaccounts",
	"/apis/networking.k8s.io/v1/ingresses", "/api/v1/persistentvolumes", "/apis/storage.k8s.io/v1/storageclasses",
	"/api/v1/secrets?labelSelector=owner%3Dhelm&fieldSelector=type%3Dhelm.sh%2Frelease.v1", "/api/v1/configmaps?labelSelector=owner%3Dhelm",
}

// launcherEnv makes this program a launcher: it runs its arguments and reports their
// peak RSS on stderr (see timed).
const launcherEnv = "BENCH_REFS_LAUNCHER"

// rssPrefix starts the launcher's last line of stderr.
const rssPrefix = "bench-refs: maxrss KiB "

func main() {
	if os.Getenv(launcherEnv) == "1" {
		os.Exit(launch(os.Args[1:]))
	}
	kubeconfig := flag.String("kubeconfig", os.Getenv("ROTOR_TEST_KUBECONFIG"), "kubeconfig of the cluster (default $ROTOR_TEST_KUBECONFIG)")
	kubectl := flag.String("kubectl", "kubectl", "kubectl binary of the cluster's version")
	rotor := flag.String("rotor", "bin/rotor", "rotor binary")
	namespaces := flag.Int("namespaces", 100, "namespaces in the population (the issue's full size is 1000)")
	runs := flag.Int("runs", 3, "rounds of the raw fetch and rotor, alternating; medians are reported, and the median of the rounds' ratios")
	pipelineRuns := flag.Int("pipeline-runs", 3, "runs of the kubectl|grep pipeline (minutes and gigabytes each at full size), at most --runs")
	createOnly := flag.Bool("create-only", false, "create the population, wait until it is quiet, and stop (measure later on a quieter machine)")
	evict := flag.Bool("evict-binaries", true, "drop rotor's and kubectl's binaries from the page cache before measuring (bench/pagecache: a binary just written by a build maps ~30 MB more resident pages)")
	flag.Parse()
	if *createOnly {
		*runs = 0
	}
	if err := run(*kubeconfig, *kubectl, *rotor, *namespaces, *runs, max(1, min(*pipelineRuns, *runs)), *evict); err != nil {
		fmt.Fprintln(os.Stderr, "bench-refs:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, kubectl, rotor string, namespaces, runs, pipelineRuns int, evict bool) error {
	if kubeconfig == "" {
		return errors.New("no cluster: set --kubeconfig or ROTOR_TEST_KUBECONFIG")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 300, 600
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	spec := population.Issue3(namespaces)
	start := time.Now()
	if err := population.Create(ctx, c, spec, os.Stderr); err != nil {
		return err
	}
	if err := population.WaitSettled(ctx, c, spec, os.Stderr); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "population ready and quiet in %s\n", time.Since(start).Round(time.Second))
	if runs == 0 {
		return nil
	}

	name := spec.Current()
	env := append(os.Environ(), "KUBECONFIG="+kubeconfig)
	kinds := "deployments,statefulsets,daemonsets,replicasets,cronjobs,jobs,pods"
	pipeline := fmt.Sprintf("%s get %s -A -o yaml | grep %s", kubectl, kinds, name)

	// Sizes and match counts, once.
	yamlBytes, _, err := capture(env, "bash", "-c", fmt.Sprintf("%s get %s -A -o yaml | wc -c", kubectl, kinds))
	if err != nil {
		return err
	}
	grepLines, _, err := capture(env, "bash", "-c", pipeline+" | wc -l")
	if err != nil {
		return err
	}
	objects, _, err := capture(env, "bash", "-c", fmt.Sprintf("%s get %s -A --no-headers | wc -l", kubectl, kinds))
	if err != nil {
		return err
	}
	refsOut, _, err := capture(env, rotor, "refs", name, "-A", "-o", "json")
	if err != nil {
		return err
	}
	refsCount := strings.Count(refsOut, `"secret": "`)

	if evict {
		// Then read back in once (a start, not measured), as a normal run finds them.
		if err := evictBinaries(env, kubectl, rotor); err != nil {
			return err
		}
	}
	// Each round fetches the raw lists and runs rotor right after, so that both meet
	// the same weather (this machine's run-to-run spread is larger than the margins
	// judged): the ratio is judged per round, and its median reported.
	var grepT, rawT, allT, rotorT []measure
	var ratios []float64
	for i := 0; i < runs; i++ {
		if i < pipelineRuns {
			m, err := timed(env, "bash", "-c", pipeline+" >/dev/null")
			if err != nil {
				return err
			}
			grepT = append(grepT, m)
		}
		var raw, all measure
		for j, p := range append(append([]string(nil), sevenKinds...), otherLists...) {
			m, err := timed(env, kubectl, "get", "--raw", p)
			if err != nil {
				return err
			}
			if j < len(sevenKinds) {
				raw.wall += m.wall
				raw.rssKB = max(raw.rssKB, m.rssKB)
			}
			all.wall += m.wall
			all.rssKB = max(all.rssKB, m.rssKB)
		}
		rawT = append(rawT, raw)
		allT = append(allT, all)
		m, err := timed(env, rotor, "refs", name, "-A")
		if err != nil {
			return err
		}
		rotorT = append(rotorT, m)
		ratios = append(ratios, m.wall.Seconds()/all.wall.Seconds())
		fmt.Fprintf(os.Stderr, "round %d: raw fetch of every list %s, rotor %s (%.2f)\n", i+1, all.wall.Round(time.Millisecond), m.wall.Round(time.Millisecond), ratios[i])
	}
	sort.Float64s(ratios)
	g, r, a, x := median(grepT), median(rawT), median(allT), median(rotorT)
	fmt.Printf("Population: %d namespaces, %s objects of the seven kinds, %s bytes of YAML; %s lines matched by grep, %d references found by rotor.\n\n",
		namespaces, strings.TrimSpace(objects), strings.TrimSpace(yamlBytes), strings.TrimSpace(grepLines), refsCount)
	fmt.Printf("| measurement (median of %d rounds; the pipeline of %d) | wall | peak RSS |\n|---|---|---|\n", runs, pipelineRuns)
	fmt.Printf("| `kubectl get %s -A -o yaml \\| grep NAME` | %s | %d MB |\n", kinds, g.wall.Round(time.Millisecond), g.rssKB/1024)
	fmt.Printf("| `kubectl get --raw` of the seven lists, one after another | %s | %d MB (largest) |\n", r.wall.Round(time.Millisecond), r.rssKB/1024)
	fmt.Printf("| `kubectl get --raw` of every list rotor reads (the seven and %d more), one after another | %s | %d MB (largest) |\n", len(otherLists), a.wall.Round(time.Millisecond), a.rssKB/1024)
	fmt.Printf("| `rotor refs NAME -A` | %s | %d MB |\n\n", x.wall.Round(time.Millisecond), x.rssKB/1024)
	fmt.Printf("rotor / grep pipeline: %.3f (target ≤ 0.1); rotor / raw fetch of the same lists: %.2f of the medians, %.2f the median of the rounds' ratios (%.2f–%.2f; target ≤ 1.0); rotor / raw fetch of the seven: %.2f; rotor peak RSS %d MB (target ≤ 120)\n",
		x.wall.Seconds()/g.wall.Seconds(), x.wall.Seconds()/a.wall.Seconds(), ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1], x.wall.Seconds()/r.wall.Seconds(), x.rssKB/1024)
	return nil
}

// evictBinaries drops kubectl's and rotor's binaries from the page cache, then starts
// each once, unmeasured.
func evictBinaries(env []string, kubectl, rotor string) error {
	var paths []string
	for _, b := range []string{kubectl, rotor} {
		p, err := exec.LookPath(b)
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}
	if err := pagecache.Evict(paths...); err != nil {
		return err
	}
	for _, p := range paths {
		if _, _, err := capture(env, p, "version", "--client"); err != nil {
			return err
		}
	}
	return nil
}

type measure struct {
	wall  time.Duration
	rssKB int64
}

// timed runs a command with its output discarded and returns its wall time and the peak
// RSS of it and its descendants. The command is started by a launcher (this program,
// re-executed while still small) rather than directly: Linux counts in a child's
// ru_maxrss the high-water RSS of the process it was exec'ed from, and Go starts
// children sharing its own memory (vfork), so a direct child would report at least this
// program's peak (hundreds of MB after listing and capturing the population). The
// launcher's own ~20 MB is the floor of the figures.
func timed(env []string, name string, args ...string) (measure, error) {
	self, err := os.Executable()
	if err != nil {
		return measure{}, err
	}
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Env = append(env, launcherEnv+"=1")
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return measure{}, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, errBuf.String())
	}
	m := measure{wall: time.Since(start)}
	out := errBuf.String()
	i := strings.LastIndex(out, rssPrefix)
	if i < 0 {
		return measure{}, fmt.Errorf("%s %s: the launcher did not report the peak RSS: %s", name, strings.Join(args, " "), out)
	}
	if _, err := fmt.Sscan(out[i+len(rssPrefix):], &m.rssKB); err != nil {
		return measure{}, fmt.Errorf("%s %s: reading the peak RSS: %w", name, strings.Join(args, " "), err)
	}
	return m, nil
}

// launch runs args with stdout to /dev/null, passes its stderr through, then reports its
// peak RSS (wait4's, which covers its descendants) and exits with its status.
func launch(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "bench-refs: launcher: no command")
		return 2
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-refs: launcher:", err)
		return 2
	}
	defer devNull.Close()
	cmd := exec.Command(args[0], args[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, launcherEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = devNull, os.Stderr
	runErr := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "bench-refs: launcher:", runErr)
		return 2
	}
	var rssKB int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rssKB = ru.Maxrss
	}
	fmt.Fprintf(os.Stderr, "\n%s%d\n", rssPrefix, rssKB)
	return cmd.ProcessState.ExitCode()
}

func capture(env []string, name string, args ...string) (string, string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errBuf
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, errBuf.String())
	}
	return out.String(), errBuf.String(), nil
}

func median(ms []measure) measure {
	sort.Slice(ms, func(i, j int) bool { return ms[i].wall < ms[j].wall })
	return ms[len(ms)/2]
}

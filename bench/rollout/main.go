// Command rollout measures `rotor rollout` and `rotor rollback` against the kubectl way
// of doing the same re-point, on a real local control plane (--kubeconfig, by default
// $ROTOR_TEST_KUBECONFIG as hack/with-cluster.sh hands it over): 50 Deployments
// of 2 replicas each use version 1 of a family; the baseline is a script of
// `kubectl patch` (one per Deployment) followed by `kubectl rollout status` (one per
// Deployment); rotor does the same with one `rotor rollout --to v2`. Runs alternate, and
// the medians are printed as a Markdown table for bench/rollout/README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/bench/population"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/rollout:", err)
		os.Exit(1)
	}
}

func run() error {
	kubectl := flag.String("kubectl", "kubectl", "kubectl binary (the same version as the cluster)")
	rotor := flag.String("rotor", "bin/rotor", "rotor binary")
	n := flag.Int("deployments", 50, "Deployments")
	replicas := flag.Int("replicas", 2, "replicas per Deployment")
	rounds := flag.Int("rounds", 3, "measured rounds of each")
	kc := ""
	flag.StringVar(&kc, "kubeconfig", os.Getenv("ROTOR_TEST_KUBECONFIG"), "kubeconfig of the cluster to measure on (default $ROTOR_TEST_KUBECONFIG)")
	flag.Parse()
	if kc == "" {
		return errors.New("no cluster to measure on: run `make bench-rollout` (it starts one), or give --kubeconfig or ROTOR_TEST_KUBECONFIG")
	}
	// The kubectl and rotor processes measure the same cluster.
	if err := os.Setenv("KUBECONFIG", kc); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 200, 400
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	ns := fmt.Sprintf("bench-rollout-%d", time.Now().Unix())
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	defer func() { _ = c.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), ns, metav1.DeleteOptions{}) }()
	v1, v2 := "app-20250101000000", "app-20250102000000"
	for _, v := range []string{v1, v2} {
		secret, err := population.VersionSecret(ns, "app", v, map[string][]byte{"token": []byte("x")})
		if err != nil {
			return err
		}
		if _, err := c.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	names := make([]string, *n)
	for i := range names {
		names[i] = fmt.Sprintf("web-%02d", i)
		if _, err := c.AppsV1().Deployments(ns).Create(ctx, deployment(names[i], v1, int32(*replicas)), metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if err := waitAll(ctx, c, ns, names); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d Deployments × %d replicas ready in %s\n", *n, *replicas, ns)

	current := v1
	flip := func() string {
		if current == v1 {
			current = v2
		} else {
			current = v1
		}
		return current
	}
	var script, rollout, rollbackWrites, rollbackHealthy []time.Duration
	for r := 0; r < *rounds; r++ {
		// kubectl: patch each, then rollout status each.
		to := flip()
		start := time.Now()
		for _, d := range names {
			patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/template/spec/containers/0/envFrom/0/secretRef/name","value":%q}]`, to)
			if err := cmd(*kubectl, "-n", ns, "patch", "deployment", d, "--type", "json", "-p", patch); err != nil {
				return err
			}
		}
		for _, d := range names {
			if err := cmd(*kubectl, "-n", ns, "rollout", "status", "deployment/"+d, "--timeout", "5m"); err != nil {
				return err
			}
		}
		script = append(script, time.Since(start))

		// rotor rollout.
		to = flip()
		start = time.Now()
		if err := cmd(*rotor, "-n", ns, "rollout", "app", "--to", to, "--yes"); err != nil {
			return err
		}
		rollout = append(rollout, time.Since(start))

		// rotor rollback: back to where the rollout came from, all in parallel.
		out, err := output(*rotor, "-n", ns, "rollback", "app", "--yes")
		if err != nil {
			return err
		}
		writes, healthy, err := rollbackTimes(out)
		if err != nil {
			return err
		}
		rollbackWrites, rollbackHealthy = append(rollbackWrites, writes), append(rollbackHealthy, healthy)
		flip()
		fmt.Fprintf(os.Stderr, "round %d: kubectl script %s, rotor rollout %s, rollback re-pointed %s / healthy %s\n",
			r+1, script[r].Round(time.Millisecond), rollout[r].Round(time.Millisecond), writes, healthy)
	}
	ms, mr := median(script), median(rollout)
	fmt.Printf("| measure (%d Deployments × %d replicas, median of %d) | value |\n|---|---|\n", *n, *replicas, *rounds)
	fmt.Printf("| kubectl patch + rollout status script | %s |\n", ms.Round(time.Millisecond))
	fmt.Printf("| rotor rollout | %s |\n", mr.Round(time.Millisecond))
	fmt.Printf("| ratio rotor / script (target ≤ 1.05) | %.2f |\n", float64(mr)/float64(ms))
	fmt.Printf("| rotor rollback: all references re-pointed (target ≤ 1 s) | %s |\n", median(rollbackWrites))
	fmt.Printf("| rotor rollback: all healthy | %s |\n", median(rollbackHealthy))
	return nil
}

func deployment(name, secret string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:1",
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}},
				}}},
			},
		},
	}
}

// waitAll waits, by watch, until every named Deployment has rolled out.
func waitAll(ctx context.Context, c kubernetes.Interface, ns string, names []string) error {
	pending := map[string]bool{}
	for _, n := range names {
		pending[n] = true
	}
	lw := cache.NewListWatchFromClient(c.AppsV1().RESTClient(), "deployments", ns, fields.Everything())
	_, err := watchtools.UntilWithSync(ctx, lw, &appsv1.Deployment{}, nil, func(ev watch.Event) (bool, error) {
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok {
			return false, nil
		}
		r := ptr.Deref(d.Spec.Replicas, 1)
		if d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == r && d.Status.UpdatedReplicas == r {
			delete(pending, d.Name)
		}
		return len(pending) == 0, nil
	})
	return err
}

func cmd(name string, args ...string) error {
	_, err := output(name, args...)
	return err
}

func output(name string, args ...string) (string, error) {
	c := exec.Command(name, args...)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

var (
	repointedRe = regexp.MustCompile(`all references re-pointed in (\S+)`)
	healthyRe   = regexp.MustCompile(`all consumers healthy after (\S+)`)
)

func rollbackTimes(out string) (time.Duration, time.Duration, error) {
	w, h := repointedRe.FindStringSubmatch(out), healthyRe.FindStringSubmatch(out)
	if w == nil || h == nil {
		return 0, 0, fmt.Errorf("rollback printed no timings:\n%s", out)
	}
	wd, err := time.ParseDuration(w[1])
	if err != nil {
		return 0, 0, err
	}
	hd, err := time.ParseDuration(h[1])
	return wd, hd, err
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

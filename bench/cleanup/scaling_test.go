// Package cleanup measures `rotor cleanup` against a large population: one family
// spread over many namespaces, to show that the reference scan is shared by every
// candidate version (the time for ten candidates stays within 1.2x the time for one).
// It runs only with ROTOR_BENCH=1; see bench/README.md and `make bench-cleanup`.
package cleanup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	benchpop "github.com/rotor-project/rotor/bench/population"
	"github.com/rotor-project/rotor/internal/cli"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/test/clusterenv"
)

func TestMain(m *testing.M) {
	if os.Getenv("ROTOR_BENCH") != "1" {
		fmt.Println("bench/cleanup: set ROTOR_BENCH=1 to run (it creates a population of namespaces)")
		os.Exit(0)
	}
	clusterenv.Main(m)
}

const day = 24 * time.Hour

// population is N namespaces, each with a CronJob (suspended: no Jobs) and three
// ReplicaSets scaled to zero naming the newest versions of the families "one" and
// "ten", two ConfigMaps and a ServiceAccount.
// "one" has one candidate (in the first namespace); "ten" has one candidate in each of
// the first ten namespaces.
type population struct {
	prefix string
	n      int
	base   time.Time
}

func (p population) ns(i int) string { return fmt.Sprintf("%s-%04d", p.prefix, i) }

// version is version i of the population's family "one" or "ten".
func (p population) version(fam string, i int) string {
	return family.NewVersion(p.family(fam), p.base.Add(time.Duration(i)*day)).Name()
}

// family names are unique per run, so runs on a shared cluster never see each other.
func (p population) family(fam string) string { return p.prefix + "-" + fam }

func (p population) create(t *testing.T, c kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	parallel(t, p.n, func(i int) error {
		ns := p.ns(i)
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		for j := 0; j < 2; j++ {
			if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "noise-" + strconv.Itoa(j)}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
		if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "report"}, Spec: batchv1.CronJobSpec{
			Schedule: "0 3 1 * *", Suspend: ptr.To(true),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1", EnvFrom: []corev1.EnvFromSource{
					{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: p.version("one", 3)}}},
					{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: p.version("ten", 3)}}},
				}}},
			}}}},
		}}
		if _, err := c.BatchV1().CronJobs(ns).Create(ctx, cj, metav1.CreateOptions{}); err != nil {
			return err
		}
		// Revision history as a Deployment leaves it: ReplicaSets scaled to zero naming
		// the family's newest version (no controller owns them, so none acts on them).
		for j := 0; j < 3; j++ {
			labels := map[string]string{"app": "api", "rev": strconv.Itoa(j)}
			rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "api-" + strconv.Itoa(j)}, Spec: appsv1.ReplicaSetSpec{
				Replicas: ptr.To(int32(0)), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: cj.Spec.JobTemplate.Spec.Template.Spec},
			}}
			rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
			if _, err := c.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
		return p.versions(ctx, c, i)
	})
}

// versions (re)creates the versions of namespace i that a run may have deleted.
func (p population) versions(ctx context.Context, c kubernetes.Interface, i int) error {
	var names []string
	if i < 10 {
		names = append(names, p.version("ten", 1), p.version("ten", 2), p.version("ten", 3))
	}
	if i == 0 {
		names = append(names, p.version("one", 1), p.version("one", 2), p.version("one", 3))
	}
	for _, n := range names {
		fam := p.family("ten")
		if !strings.HasPrefix(n, fam+"-") {
			fam = p.family("one")
		}
		secret, err := benchpop.VersionSecret(p.ns(i), fam, n, map[string][]byte{"k": []byte("v")})
		if err != nil {
			return err
		}
		_, err = c.CoreV1().Secrets(p.ns(i)).Create(ctx, secret, metav1.CreateOptions{})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			return err
		}
	}
	return nil
}

func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// cleanupOnce runs rotor cleanup FAMILY -A in-process and returns its wall time.
func cleanupOnce(t *testing.T, now time.Time, fam string, want int, args ...string) time.Duration {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"rotor", "--kubeconfig", clusterenv.Kubeconfig(t), "cleanup", fam, "-A", "--retain", "14d"}, args...)
	start := time.Now()
	code := cli.Run(context.Background(), full, cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		cli.Deps{Clock: clocktesting.NewFakeClock(now)})
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("cleanup %s %v: exit %d\n%s", fam, args, code, errOut.String())
	}
	if got := strings.Count(out.String(), "would delete") + strings.Count(out.String(), "deleted"); got != want {
		t.Fatalf("cleanup %s %v: %d deletions, want %d\n%s", fam, args, got, want, out.String())
	}
	return took
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestCleanupScalesWithOneScan measures the dry run (plan: one scan) and the real run
// (plan, re-check scan, deletes) for one and for ten candidates, alternating, and
// requires the ten-candidate median within 1.2x of the one-candidate median.
func TestCleanupScalesWithOneScan(t *testing.T) {
	n := 1000
	if v := os.Getenv("ROTOR_BENCH_NAMESPACES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			t.Fatalf("ROTOR_BENCH_NAMESPACES=%q: give a number of at least 10", v)
		}
	}
	rounds := 5
	if v := os.Getenv("ROTOR_BENCH_ROUNDS"); v != "" {
		var err error
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 {
			t.Fatalf("ROTOR_BENCH_ROUNDS=%q: give a number of at least 1", v)
		}
	}
	c := clusterenv.Client(t)
	real := time.Now().UTC().Truncate(time.Second)
	p := population{prefix: fmt.Sprintf("bench-%d", real.Unix()%100000), n: n, base: real.Add(-100 * day)}
	start := time.Now()
	if os.Getenv("ROTOR_BENCH_KEEP") == "" {
		t.Cleanup(func() {
			parallel(t, n, func(i int) error {
				return c.CoreV1().Namespaces().Delete(context.Background(), p.ns(i), metav1.DeleteOptions{})
			})
		})
	}
	p.create(t, c)
	t.Logf("population: %d namespaces, %d CronJobs, %d ReplicaSets, %d ConfigMaps, %d ServiceAccounts, 33 Secret versions; created in %s",
		n, n, 3*n, 2*n, n, time.Since(start).Round(time.Millisecond))
	now := real.Add(60 * day)

	var dryOne, dryTen, runOne, runTen []time.Duration
	cleanupOnce(t, now, p.family("one"), 1, "--dry-run") // warm-up: discovery, connections
	for r := 0; r < rounds; r++ {
		dryOne = append(dryOne, cleanupOnce(t, now, p.family("one"), 1, "--dry-run"))
		dryTen = append(dryTen, cleanupOnce(t, now, p.family("ten"), 10, "--dry-run"))
		runOne = append(runOne, cleanupOnce(t, now, p.family("one"), 1, "--yes"))
		runTen = append(runTen, cleanupOnce(t, now, p.family("ten"), 10, "--yes"))
		parallel(t, 10, func(i int) error { return p.versions(context.Background(), c, i) })
	}
	report := func(what string, one, ten []time.Duration) float64 {
		ratio := float64(median(ten)) / float64(median(one))
		t.Logf("%-22s 1 candidate: median %6s   10 candidates: median %6s   ratio %.2f   (runs: %v / %v)",
			what, median(one).Round(time.Millisecond), median(ten).Round(time.Millisecond), ratio, round(one), round(ten))
		return ratio
	}
	rd := report("dry run (plan)", dryOne, dryTen)
	rr := report("--yes (plan+delete)", runOne, runTen)
	if os.Getenv("ROTOR_BENCH_SMOKE") == "1" {
		t.Logf("smoke run (%d namespaces, %d rounds): the figures are printed; the 1.2x target is judged at full size only", n, rounds)
		return
	}
	if rd > 1.2 || rr > 1.2 {
		t.Fatalf("ten candidates took more than 1.2x one candidate (dry run %.2f, real run %.2f)", rd, rr)
	}
}

func round(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(time.Millisecond)
	}
	return out
}

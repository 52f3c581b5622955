package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/promenv"
)

// The rollout's --analysis gate against a real Prometheus that scrapes exporters the
// tests control (every second), on the real local control plane. Nothing is mocked:
// the exporter's error counter starts growing when the test sees the cluster reach a
// given state, and rotor only learns of it through Prometheus.

const (
	// raInterval and raWindow are the metric's interval and the query's rate window:
	// a failure must be acted on within about their sum.
	raInterval = time.Second
	raWindow   = 5 * time.Second
	// raErrorRate is the query of every test that needs a real signal; instance picks
	// the test's own exporter, so one Prometheus serves several subtests.
	raErrorRate = `sum(rate(app_requests_total{code="500",instance="{{args.instance}}"}[5s]))`
	// raThreshold is the successCondition's bound (errors per second).
	raThreshold = 5
)

// raMetric is the one metric of a test's analysis file.
type raMetric struct {
	address   string
	query     string
	count     int    // 0: no count (one measurement per step gate, or until the window ends)
	condition string // default: result[0] < {{args.threshold}}
}

// raAnalysis writes an Argo Rollouts AnalysisTemplate with one metric "error-rate"
// measured every raInterval.
func raAnalysis(t *testing.T, m raMetric) string {
	t.Helper()
	if m.condition == "" {
		m.condition = "result[0] < {{args.threshold}}"
	}
	args := fmt.Sprintf("  - name: threshold\n    value: %q\n", strconv.Itoa(raThreshold))
	if strings.Contains(m.query, "{{args.instance}}") {
		args += "  - name: instance\n"
	}
	count := ""
	if m.count > 0 {
		count = fmt.Sprintf("    count: %d\n", m.count)
	}
	doc := fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: rollout-gate
spec:
  args:
%s  metrics:
  - name: error-rate
    interval: %s
%s    successCondition: '%s'
    provider:
      prometheus:
        address: %s
        query: '%s'
        timeout: 5
`, args, raInterval, count, strings.ReplaceAll(m.condition, "'", "''"), m.address, strings.ReplaceAll(m.query, "'", "''"))
	p := filepath.Join(t.TempDir(), "rollout-analysis.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// raPrometheus starts n exporters (error counters flat) and one Prometheus scraping
// them all, and waits until the error rate of every exporter has a value.
func raPrometheus(t *testing.T, n int) (*promenv.Server, []*promenv.Exporter) {
	t.Helper()
	exps := make([]*promenv.Exporter, n)
	targets := make([]string, n)
	for i := range exps {
		exps[i] = promenv.StartExporter(t)
		targets[i] = exps[i].Target
	}
	prom := promenv.Start(t, targets...)
	for _, e := range exps {
		q := strings.ReplaceAll(raErrorRate, "{{args.instance}}", e.Target)
		prom.WaitForQuery(t, "a first error rate of "+e.Target, q)
	}
	return prom, exps
}

// watchDeployments calls fn with every Deployment the API server reports in ns (on one
// goroutine, in order) until the returned stop is called.
func watchDeployments(t *testing.T, ns string, fn func(*appsv1.Deployment)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := clusterenv.Client(t).AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok {
				fn(d)
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); w.Stop(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// watchJournal calls fn with each rotation of fam in ns whenever a ConfigMap of ns
// changes (rotor's journals are ConfigMaps), until stop.
func watchJournal(t *testing.T, ns, fam string, fn func(*v1alpha1.SecretRotation)) (stop func()) {
	t.Helper()
	c := clusterenv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := c.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	store := &journal.Store{Client: c}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range w.ResultChan() {
			rots, err := store.List(ctx, ns, fam)
			if err != nil {
				continue // the next change lists again
			}
			for _, rot := range rots {
				fn(rot)
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); w.Stop(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// templateVersion is the Secret the Deployment's one container takes envFrom.
func templateVersion(d *appsv1.Deployment) string {
	return d.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name
}

// failedValue is the value of the failed measurement in a rollout's report, checked
// against the condition the report names.
var failedValue = regexp.MustCompile(`error-rate = \[([^\]]+)\] \(Failed\) successCondition result\[0\] < 5 is false`)

// assertRolledBackOnErrors checks the report, the template and the record of a
// rollout the analysis failed.
func assertRolledBackOnErrors(t *testing.T, r result, ns, v1 string) {
	t.Helper()
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"rollout FAILED", "gate analysis", `metric "error-rate" Failed`, "failureLimit (0)", "rolled back: Deployment/web → " + v1} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.Stdout)
		}
	}
	m := failedValue.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("report names no failed value with its condition:\n%s", r.Stdout)
	}
	if v, err := strconv.ParseFloat(m[1], 64); err != nil || v < raThreshold {
		t.Errorf("failed value %q is not an error rate of at least %d/s", m[1], raThreshold)
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v1 {
		t.Errorf("web names %v after the automatic rollback, want %s", got, v1)
	}
	if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.RolledBack || !strings.Contains(recs[0].Status.Message, "error-rate") {
		t.Errorf("journals = %+v; want one RolledBack rotation naming error-rate", recs)
	}
}

// A rolling rollout whose error rate jumps once the Deployment names the new version
// is rolled back within about one interval plus the query window, whether the errors
// are seen by the gate that runs during the rolling update or by --analysis-duration
// after it.
func TestRolloutAnalysisRollsBackWhenErrorsBeginAfterTheRepoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		count    int
		duration string
		// post: the failure must come from the gate after the rollout.
		post bool
	}{
		{name: "errors during the rolling update fail its gate and roll back", count: 40},
		{name: "errors after the rolling update fail --analysis-duration and roll back", duration: "40s", post: true},
	}
	prom, exps := raPrometheus(t, len(tests))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := exps[i]
			ns := clusterenv.Namespace(t)
			v1, v2 := twoVersions(t, ns, "app")
			createDeployment(t, ns, deployment("web", v1, 3))
			file := raAnalysis(t, raMetric{address: prom.URL, query: raErrorRate, count: tt.count})

			var mu sync.Mutex
			var errorsAt, backAt time.Time
			begin := func() {
				mu.Lock()
				defer mu.Unlock()
				if errorsAt.IsZero() {
					exp.SetErrorRate(50)
					errorsAt = time.Now()
				}
			}
			if tt.post {
				// The errors begin once rotor's journal says the post-rollout gates run:
				// after the rolling update as rotor judged it, however long a busy
				// machine makes the update take (begun at the re-point, the gate during
				// the update could see them first).
				stopJournal := watchJournal(t, ns, "app", func(rot *v1alpha1.SecretRotation) {
					for _, g := range rot.Status.Gates {
						if g.Post {
							begin()
						}
					}
				})
				defer stopJournal()
			}
			stop := watchDeployments(t, ns, func(d *appsv1.Deployment) {
				if d.Name != "web" {
					return
				}
				switch v := templateVersion(d); {
				case !tt.post && v == v2:
					begin()
				case v == v1:
					mu.Lock()
					if !errorsAt.IsZero() && backAt.IsZero() {
						backAt = time.Now()
					}
					mu.Unlock()
				}
			})
			args := []string{"rollout", "app", "-n", ns, "--to", v2, "--yes", "--analysis", file, "--arg", "instance=" + exp.Target}
			if tt.duration != "" {
				args = append(args, "--analysis-duration", tt.duration)
			}
			r := run(t, nil, "", args...)
			stop()
			assertRolledBackOnErrors(t, r, ns, v1)
			if post := strings.Contains(r.Stderr, "the post-rollout gates decide now"); post != tt.post {
				t.Errorf("failed after the rollout: %v, want %v; stderr:\n%s", post, tt.post, r.Stderr)
			}
			mu.Lock()
			took := backAt.Sub(errorsAt)
			mu.Unlock()
			if errorsAt.IsZero() || backAt.IsZero() {
				t.Fatalf("never saw web re-pointed to %s and back (errors at %v, back at %v)", v2, errorsAt, backAt)
			}
			// The gate failed at the measurement that saw the errors, not after all of
			// them (40 measurements, or 40 s of them): a count, not a clock, so a busy
			// machine cannot fail it.
			if measured := strings.Count(r.Stderr, "analysis: error-rate #"); measured >= 40 {
				t.Errorf("%d measurements: the gate waited out the whole analysis instead of failing when the errors began:\n%s", measured, r.Stderr)
			}
			t.Logf("rolled back %s after the errors began (interval %s, window %s)", took.Round(time.Millisecond), raInterval, raWindow)
			waitAvailable(t, clusterenv.Client(t), ns, "web")
		})
	}
}

// A rollout whose error counter stays flat completes; with --analysis-duration it
// completes only after that long, having measured every interval.
func TestRolloutAnalysisHealthyRolloutCompletes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		duration time.Duration
	}{
		{name: "a healthy rollout with analysis completes after one measurement"},
		{name: "with --analysis-duration a healthy rollout completes only after that duration", duration: 4 * time.Second},
	}
	prom, exps := raPrometheus(t, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := clusterenv.Namespace(t)
			v1, v2 := twoVersions(t, ns, "app")
			createDeployment(t, ns, deployment("web", v1, 2))
			file := raAnalysis(t, raMetric{address: prom.URL, query: raErrorRate})
			args := []string{"rollout", "app", "-n", ns, "--to", v2, "--yes", "--analysis", file, "--arg", "instance=" + exps[0].Target}
			if tt.duration > 0 {
				args = append(args, "--analysis-duration", tt.duration.String())
			}
			start := time.Now()
			r := run(t, nil, "", args...)
			took := time.Since(start)
			if r.Code != 0 || !strings.Contains(r.Stdout, "rollout succeeded") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
			}
			measured := strings.Count(r.Stderr, "analysis: error-rate #")
			if ok := strings.Count(r.Stderr, "= [0] (Successful) successCondition result[0] < 5 is true"); ok != measured {
				t.Errorf("%d of %d measurements were a flat error rate:\n%s", ok, measured, r.Stderr)
			}
			if tt.duration == 0 {
				if measured != 1 || strings.Contains(r.Stderr, "post-rollout") {
					t.Errorf("%d measurements, want the step gate's one:\n%s", measured, r.Stderr)
				}
			} else {
				// The step gate's one, then one every interval over the duration (four
				// here); a measurement a whole interval late on a busy machine skips a
				// slot, as in Argo (missed ones are not made up), so at least two more.
				if want := 3; measured < want || !strings.Contains(r.Stderr, "the post-rollout gates decide now") {
					t.Errorf("%d measurements, want at least %d:\n%s", measured, want, r.Stderr)
				}
				if took < tt.duration {
					t.Errorf("completed after %s, before --analysis-duration %s", took, tt.duration)
				}
			}
			t.Logf("completed after %s with %d measurement(s)", took.Round(time.Millisecond), measured)
			if got := templateSecrets(t, ns, "web"); got[0] != v2 {
				t.Errorf("web names %v, want %s", got, v2)
			}
			if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.Succeeded {
				t.Errorf("journals = %+v; want one Succeeded", recs)
			}
		})
	}
}

// A bluegreen rollout in steps of 25, 50 and 100 % whose errors begin once green holds
// 50 % stops at that step: green never grows further, blue never names the new
// version, blue is back at full size and green is deleted.
func TestRolloutAnalysisBlueGreenStopsAtTheStepWhereErrorsBegin(t *testing.T) {
	t.Parallel()
	prom, exps := raPrometheus(t, 1)
	exp := exps[0]
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	const replicas = 4
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, replicas))
	// Three measurements a second apart per step, after a pause as long as the query's
	// rate window, so a step's gate sees errors that began while its pods became healthy
	// and it paused, even with Prometheus's scrapes late on a busy machine.
	file := raAnalysis(t, raMetric{address: prom.URL, query: raErrorRate, count: 3})

	log, stopLog := watchReplicas(t, ns, "web")
	var mu sync.Mutex
	var errorsAt time.Time
	var blueVersions []string
	stop := watchDeployments(t, ns, func(d *appsv1.Deployment) {
		mu.Lock()
		defer mu.Unlock()
		switch d.Name {
		case rollout.GreenName("web"):
			if errorsAt.IsZero() && *d.Spec.Replicas == rollout.GreenShare(replicas, 50) {
				exp.SetErrorRate(50)
				errorsAt = time.Now()
			}
		case "web":
			blueVersions = append(blueVersions, templateVersion(d))
		}
	})
	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--strategy", "bluegreen", "--steps", "25,50,100", "--pause", "5s",
		"--analysis", file, "--arg", "instance="+exp.Target)
	stop()
	stopLog()

	if r.Code != 1 || !strings.Contains(r.Stdout, `metric "error-rate" Failed`) || failedValue.FindString(r.Stdout) == "" {
		t.Fatalf("exit %d, want 1 with the failed metric\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "step 1 of 3 passed: 25%") || strings.Contains(r.Stderr, "step 2 of 3 passed") {
		t.Errorf("want step 1 passed and step 2 failed:\n%s", r.Stderr)
	}
	mu.Lock()
	if errorsAt.IsZero() {
		t.Error("green never held 50 %, so errors never began")
	}
	for _, v := range blueVersions {
		if v != v1 {
			t.Errorf("blue named %s during the rollout: %v", v, blueVersions)
			break
		}
	}
	mu.Unlock()
	// Green 1 then 2 of 4; then blue back to 4 and green gone; never more green.
	seen := log.seen()
	t.Logf("replica counts seen: %v", seen)
	if !containsInOrder(seen, "blue=3 green=1", "blue=2 green=2", "blue=4 green=2", "blue=4 green=-1") {
		t.Errorf("replica counts seen: %v", seen)
	}
	for _, p := range seen {
		var blue, green int
		if _, err := fmt.Sscanf(p, "blue=%d green=%d", &blue, &green); err != nil || green > int(rollout.GreenShare(replicas, 50)) {
			t.Errorf("replica counts passed the 50 %% step: %v", seen)
			break
		}
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v1 {
		t.Errorf("blue names %v after the abort, want %s", got, v1)
	}
	if _, err := c.AppsV1().Deployments(ns).Get(context.Background(), rollout.GreenName("web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("green copy still exists: %v", err)
	}
	if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.RolledBack || !strings.Contains(recs[0].Status.Message, "error-rate") {
		t.Errorf("journals = %+v; want one RolledBack rotation naming error-rate", recs)
	}
	waitAvailable(t, c, ns, "web")
}

// closedPort is a loopback address where nothing listens: port 1 (tcpmux), which no
// service on these machines offers, outside the ephemeral range that other programs'
// connections take ports from.
func closedPort(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:1"
}

// Every query is evaluated once before anything changes: an analysis that cannot run
// refuses the rollout with the metric named and the namespace unchanged. The queries
// need no scrape.
func TestRolloutAnalysisRefusesABadAnalysisUpFront(t *testing.T) {
	t.Parallel()
	prom := promenv.Start(t)
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 2))
	const queried = "the analysis cannot run, so nothing was changed"
	tests := []struct {
		name   string
		metric raMetric
		want   []string
	}{
		{"bad PromQL is refused", raMetric{address: prom.URL, query: "sum(rate(app_requests_total[5s]"}, []string{queried, "as bad PromQL"}},
		{"an unreachable Prometheus is refused", raMetric{address: "http://" + closedPort(t), query: "vector(0)"}, []string{queried, "is unreachable"}},
		// Refused when the analysis is loaded, before any query.
		{"a condition that does not compile is refused", raMetric{address: prom.URL, query: "vector(0)", condition: "result[0] <"}, []string{`successCondition "result[0] <" does not compile`}},
		{"a condition that cannot apply to the value is refused", raMetric{address: prom.URL, query: "vector(0)", condition: "result < 5"}, []string{queried, "value [0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := raAnalysis(t, tt.metric)
			before := snapshot(t, ns)
			r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--analysis", file)
			if r.Code != 1 || !strings.Contains(r.Stderr, `metric "error-rate"`) || strings.Contains(r.Stderr, "hint: the cluster did not answer") {
				t.Fatalf("exit %d, want 1 and a refusal naming the metric\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("refusal lacks %q:\n%s", want, r.Stderr)
				}
			}
			assertUnchanged(t, ns, before)
		})
	}
}

// Verdicts that need no scrape: a metric over its threshold from the first
// measurement, and one without data (inconclusive, which without a terminal to ask
// counts as a failure), both roll back.
func TestRolloutAnalysisVerdictsWithoutAScrapeRollBack(t *testing.T) {
	t.Parallel()
	prom := promenv.Start(t)
	tests := []struct {
		name   string
		query  string
		stdout []string
		stderr []string
	}{
		{"a metric over its threshold at once rolls back", "vector(10)",
			[]string{`metric "error-rate" Failed`, "error-rate = [10] (Failed) successCondition result[0] < 5 is false"}, nil},
		{"a metric without data is inconclusive and, without a terminal, rolls back", "sum(rotor_test_no_such_metric)",
			[]string{`metric "error-rate" Inconclusive`, "error-rate = no data (Inconclusive)"}, []string{"treated as a failure, since there is no terminal to ask"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := clusterenv.Namespace(t)
			v1, v2 := twoVersions(t, ns, "app")
			createDeployment(t, ns, deployment("web", v1, 2))
			file := raAnalysis(t, raMetric{address: prom.URL, query: tt.query})
			r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--analysis", file)
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
			}
			for _, want := range append(tt.stdout, "rollout FAILED", "rolled back: Deployment/web → "+v1) {
				if !strings.Contains(r.Stdout, want) {
					t.Errorf("report lacks %q:\n%s", want, r.Stdout)
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
				}
			}
			if got := templateSecrets(t, ns, "web"); got[0] != v1 {
				t.Errorf("web names %v after the automatic rollback, want %s", got, v1)
			}
			if recs := journals(t, ns, "app"); len(recs) != 1 || recs[0].Status.Phase != v1alpha1.RolledBack {
				t.Errorf("journals = %+v; want one RolledBack", recs)
			}
		})
	}
}

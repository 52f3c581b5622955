package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/promenv"
)

// leaderArgs run a controller with leader election tuned short for tests, yet with a
// renew deadline a busy machine's slowest Lease update does not reach (a leader that
// misses it stops, and the test would wait for a successor that was killed).
var leaderArgs = []string{"--leader-elect=true", "--leader-elect-id", "rotor-controller",
	"--leader-elect-lease-duration", "10s", "--leader-elect-renew-deadline", "8s", "--leader-elect-retry-period", "1s"}

// pidOf is the process id in a driver identity (host-pid-random).
func pidOf(identity string) int {
	parts := strings.Split(identity, "-")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	return pid
}

// Two replicas; the leader is killed with SIGKILL in the middle of a blue-green
// rotation (green at half the replicas, in the step's pause). The other replica takes
// the Lease once it expires, resumes from the journal in the status, and finishes:
// blue at full size on the new version, green deleted, the journal Succeeded and
// driven by the survivor.
func TestControllerLeaderKilledMidBlueGreenSecondFinishes(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	clk := newClock(t0)
	v1 := createVersion(t, clk, ns, "app", "one")
	createDeployment(t, ns, deployment("web", v1, 4))
	name := applySecretRotation(t, ns, `
apiVersion: rotor.dev/v1alpha1
kind: SecretRotation
metadata: {name: app}
spec:
  family: app
  target: latest
  strategy: {type: bluegreen, steps: [50, 100], pause: 20s}
`)
	a := startController(t, ns, leaderArgs...)
	b := startController(t, ns, leaderArgs...)
	procs := map[int]*controllerProc{a.cmd.Process.Pid: a, b.cmd.Process.Pid: b}
	waitRotation(t, nil, ns, name, "Succeeded on "+v1, succeededOn(v1))

	clk.Step(time.Hour)
	v2 := createVersion(t, clk, ns, "app", "two")
	mid := waitRotation(t, nil, ns, name, "at step 1 of 2, healthy, pausing", func(r *v1alpha1.SecretRotation) bool {
		return r.Status.TargetVersion == v2 && r.Status.Step == 0 && r.Status.StepHealthy != nil && len(r.Status.Green) == 1
	})
	leader := procs[pidOf(mid.Status.Driver.Identity)]
	if leader == nil {
		t.Fatalf("driver %q is neither controller (pids %d, %d)", mid.Status.Driver.Identity, a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
	leader.kill()
	var survivor *controllerProc
	for pid, p := range procs {
		if pid != leader.cmd.Process.Pid {
			survivor = p
		}
	}
	// Killed mid-step: blue and green each run half, and every pod names a version
	// that exists.
	for v := range podsByVersion(t, ns, "app") {
		if v != v1 && v != v2 {
			t.Fatalf("a pod names %s, which is not a version", v)
		}
	}
	done := waitRotation(t, survivor, ns, name, "Succeeded on "+v2, succeededOn(v2))
	if pidOf(done.Status.Driver.Identity) != survivor.cmd.Process.Pid {
		t.Fatalf("finished by %q, want the survivor (pid %d)", done.Status.Driver.Identity, survivor.cmd.Process.Pid)
	}
	if got := templateSecrets(t, ns, "web"); len(got) != 1 || got[0] != v2 {
		t.Fatalf("web names %v, want %s", got, v2)
	}
	eventually(t, ns, "blue at full size and green deleted", func() bool {
		d, err := c.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
		_, gerr := c.AppsV1().Deployments(ns).Get(context.Background(), rollout.GreenName("web"), metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 4 && gerr != nil
	})
	if !containsLine(eventsOf(t, ns, "SecretRotation", name), "Normal Resumed") {
		t.Fatalf("no Resumed event: %v", eventsOf(t, ns, "SecretRotation", name))
	}
}

// writeInlineAnalysis is an analysis on the exporter's error rate, inline in a
// SecretRotation spec (YAML flow style, indented for spec:).
func inlineAnalysis(promURL string) string {
	return fmt.Sprintf(`  analysis:
    inline:
      metrics:
      - name: error-rate
        interval: 1s
        successCondition: result[0] < 5
        provider:
          prometheus:
            address: %s
            query: sum(rate(app_requests_total{code="500"}[5s])) or vector(0)
`, promURL)
}

// The watch after a rotation — 24 h in production, seconds here — runs in the
// controller: when the metric fails during it, the controller rolls every consumer
// back and the status says the gate failed.
func TestControllerWatchRollsBackOnMetricFailure(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	exp := promenv.StartExporter(t)
	prom := promenv.Start(t, exp.Target)
	prom.WaitForTarget(t)
	clk := newClock(t0)
	v1 := createVersion(t, clk, ns, "app", "one")
	createDeployment(t, ns, deployment("web", v1, 2))
	name := applySecretRotation(t, ns, `
apiVersion: rotor.dev/v1alpha1
kind: SecretRotation
metadata: {name: app}
spec:
  family: app
  target: latest
  watch: 1h
`+inlineAnalysis(prom.URL))
	p := startController(t, ns)
	// The first rotation (to v1, where web already is) enters its watch.
	waitRotation(t, p, ns, name, "watching "+v1, func(r *v1alpha1.SecretRotation) bool {
		return r.Status.TargetVersion == v1 && r.Status.Phase == v1alpha1.Analysing
	})
	exp.SetErrorRate(50)
	rot := waitRotation(t, p, ns, name, "failed its watch", func(r *v1alpha1.SecretRotation) bool { return r.Status.Phase.Final() })
	if rot.Status.Failure == nil || !strings.Contains(rot.Status.Failure.Object, "gate") {
		t.Fatalf("status %+v: want a gate failure", rot.Status)
	}
	exp.SetErrorRate(0)
	promEventually(t, "the error rate back to zero in Prometheus", func() bool {
		return promValue(t, prom, `sum(rate(app_requests_total{code="500"}[5s])) or vector(0)`) == "0"
	})

	// A new version passes its step's gate, then its watch fails: web goes back to v1.
	name2 := name
	clk.Step(time.Hour)
	v2 := createVersion(t, clk, ns, "app", "two")
	waitRotation(t, p, ns, name2, "watching "+v2, func(r *v1alpha1.SecretRotation) bool {
		return r.Status.TargetVersion == v2 && r.Status.Phase == v1alpha1.Analysing
	})
	if got := templateSecrets(t, ns, "web"); got[0] != v2 {
		t.Fatalf("web names %v during the watch, want %s", got, v2)
	}
	exp.SetErrorRate(50)
	rot = waitRotation(t, p, ns, name2, "RolledBack", func(r *v1alpha1.SecretRotation) bool {
		return r.Status.TargetVersion == v2 && r.Status.Phase == v1alpha1.RolledBack
	})
	if !strings.Contains(rot.Status.Message, "gate") {
		t.Fatalf("status message %q does not say the gate failed", rot.Status.Message)
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v1 {
		t.Fatalf("web names %v after the watch failed, want %s", got, v1)
	}
}

// promValue is the single value of an instant query ("" when it has no sample).
func promValue(t *testing.T, s *promenv.Server, q string) string {
	t.Helper()
	out, err := s.Query(q)
	if err != nil {
		return ""
	}
	var res struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(out), &res) != nil || len(res.Data.Result) != 1 || len(res.Data.Result[0].Value) != 2 {
		return ""
	}
	v, _ := res.Data.Result[0].Value[1].(string)
	return v
}

// A real Prometheus scraping the controller sees a version's expiry, the current
// version's age and due state, and the mixed state during a slow (blue-green, paused)
// rollout: two versions of the family with consumers at once.
func TestControllerMetricsScrapedByPrometheus(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	clk := newClock(time.Now().Add(-48 * time.Hour).Truncate(time.Second))
	v1 := createVersion(t, clk, ns, "app", "one", "--rotate-after", "1d")
	createDeployment(t, ns, deployment("web", v1, 2))
	name := applySecretRotation(t, ns, `
apiVersion: rotor.dev/v1alpha1
kind: SecretRotation
metadata: {name: app}
spec:
  family: app
  target: latest
  strategy: {type: bluegreen, steps: [50, 100], pause: 1h}
`)
	p := startController(t, ns)
	prom := promenv.Start(t, p.metrics)
	waitRotation(t, p, ns, name, "Succeeded on "+v1, succeededOn(v1))
	sel := fmt.Sprintf(`{namespace=%q,family="app"}`, ns)
	promEventually(t, "the age and due state of "+v1+" scraped", func() bool {
		age, err := strconv.ParseFloat(promValue(t, prom, "rotor_family_current_version_age_seconds"+sel), 64)
		return err == nil && age > 47*3600 && promValue(t, prom, "rotor_family_rotation_due"+sel) == "1"
	})

	clk = newClock(time.Now().Truncate(time.Second))
	v2 := createVersion(t, clk, ns, "app", "two", "--expires-in", "90d")
	expires := clk.Now().Add(90 * 24 * time.Hour).Unix()
	waitRotation(t, p, ns, name, "pausing at 50%", func(r *v1alpha1.SecretRotation) bool {
		return r.Status.TargetVersion == v2 && r.Status.StepHealthy != nil
	})
	promEventually(t, "the mixed state, the expiry and the phase scraped", func() bool {
		both := promValue(t, prom, fmt.Sprintf(`count(rotor_consumers{namespace=%q,family="app"} > 0)`, ns)) == "2"
		exp := promValue(t, prom, fmt.Sprintf(`rotor_secret_version_expiration_timestamp_seconds{namespace=%q,version=%q}`, ns, v2)) == strconv.FormatInt(expires, 10)
		phase := promValue(t, prom, fmt.Sprintf(`rotor_rotation_phase{namespace=%q,name=%q,phase="Progressing"}`, ns, name)) == "1"
		notDue := promValue(t, prom, "rotor_family_rotation_due"+sel) == "0" // green runs the new version: no longer due
		return both && exp && phase && notDue
	})
	if v := promValue(t, prom, fmt.Sprintf(`rotor_rotations_total{namespace=%q,family="app",result="succeeded"}`, ns)); v != "1" {
		t.Fatalf("rotor_rotations_total{result=succeeded} = %q, want 1", v)
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// canaryRollout is an Argo Rollout of two replicas taking envFrom secret, with a canary
// strategy of one 50 % step and a pause; extra is added to its spec (YAML).
func canaryRollout(t *testing.T, ns, name, secret, pause, extra string) {
	t.Helper()
	applyYAML(t, dynamicClient(t), rolloutsGVR, ns, fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: app
        image: registry.example/app:1
        envFrom: [{secretRef: {name: %[2]s}}]
  strategy:
    canary:
      steps: [{setWeight: 50}, {pause: {duration: %[3]s}}]
%[4]s`, name, secret, pause, extra))
}

// rolloutState reads a Rollout's template Secret and its controller's verdict.
func rolloutState(ctx context.Context, t *testing.T, ns, name string) (secret, phase string, promoted bool, generation int64, observed string) {
	ro, err := dynamicClient(t).Resource(rolloutsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(ro.Object, "spec", "template", "spec", "containers")
	if len(containers) > 0 {
		envFrom, _, _ := unstructured.NestedSlice(containers[0].(map[string]any), "envFrom")
		if len(envFrom) > 0 {
			secret, _, _ = unstructured.NestedString(envFrom[0].(map[string]any), "secretRef", "name")
		}
	}
	phase, _, _ = unstructured.NestedString(ro.Object, "status", "phase")
	stable, _, _ := unstructured.NestedString(ro.Object, "status", "stableRS")
	current, _, _ := unstructured.NestedString(ro.Object, "status", "currentPodHash")
	observed, _, _ = unstructured.NestedString(ro.Object, "status", "observedGeneration")
	return secret, phase, stable != "" && stable == current, ro.GetGeneration(), observed
}

// stablePodHash is the pod hash the Rollout's controller calls stable.
func stablePodHash(t *testing.T, ns, name string) string {
	t.Helper()
	ro, err := dynamicClient(t).Resource(rolloutsGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := unstructured.NestedString(ro.Object, "status", "stableRS")
	return h
}

func waitRolloutHealthy(t *testing.T, ns, name string) {
	t.Helper()
	clusterenv.WaitFor(t, ns, "Rollout "+name+" Healthy", func(ctx context.Context) (bool, error) {
		_, phase, promoted, gen, observed := rolloutState(ctx, t, ns, name)
		return phase == "Healthy" && promoted && observed == fmt.Sprint(gen), nil
	}, rolloutsGVR)
}

// TestACanaryRolloutIsRepointedThroughItsStepsUnderTheRealController: rotor re-points
// an Argo Rollout and waits while the real argo-rollouts controller takes it through
// its canary step and pause; `status` then shows its pods by version.
func TestACanaryRolloutIsRepointedThroughItsStepsUnderTheRealController(t *testing.T) {
	t.Parallel()
	clusterenv.RequireAddon(t, "argo-rollouts")
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	canaryRollout(t, ns, "web", v1, "3s", "")
	waitRolloutHealthy(t, ns, "web")

	oldHash := stablePodHash(t, ns, "web")

	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--timeout", rotorTimeout(t))
	if r.Code != 0 {
		t.Fatalf("rollout: %+v", r)
	}
	// rotor waited for the controller to take the new generation through its canary
	// steps: it reported a step of the new generation and then called the Rollout
	// healthy on the new stable pod hash, not on the Healthy of the old one. Which steps
	// it saw depends on when it looked (under load it can miss the short pause), so the
	// test asks for at least one, before the verdict.
	stepAt := strings.Index(r.Stderr, " of 2)")
	healthyAt := strings.Index(r.Stderr, "healthy: stable pod hash ")
	if !strings.Contains(r.Stderr, "Rollout/web") || stepAt < 0 || healthyAt < stepAt {
		t.Fatalf("progress does not show a canary step before the healthy verdict:\n%s", r.Stderr)
	}
	newHash := stablePodHash(t, ns, "web")
	if newHash == oldHash || !strings.Contains(r.Stderr, "healthy: stable pod hash "+newHash) {
		t.Fatalf("rotor's verdict is not on the new stable pod hash %s (was %s):\n%s", newHash, oldHash, r.Stderr)
	}
	secret, phase, promoted, gen, observed := rolloutState(context.Background(), t, ns, "web")
	if secret != v2 || phase != "Healthy" || !promoted || observed != fmt.Sprint(gen) {
		t.Fatalf("after the rollout: names %s, phase %s, promoted %v, generation %d observed %s", secret, phase, promoted, gen, observed)
	}
	eventually(t, ns, "only v2 pods", func() bool { p := podsByVersion(t, ns, "app"); return p[v2] == 2 && p[v1] == 0 })

	s := run(t, nil, "", "status", "app", "-n", ns, "-o", "json")
	if s.Code != 0 {
		t.Fatalf("status: %+v", s)
	}
	var st rollout.Status
	if err := json.Unmarshal([]byte(s.Stdout), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Consumers) != 1 || st.Consumers[0].Kind != "Rollout" || len(st.Consumers[0].Pods) != 1 ||
		st.Consumers[0].Pods[0].Version != v2 || st.Consumers[0].Pods[0].Total != 2 || !st.Consumers[0].Done || st.Consumers[0].Note != "" {
		t.Fatalf("status: %s", s.Stdout)
	}
}

// notReadyPodsUsing adds a kwok Stage under which new pods of ns that take envFrom the
// Secret named secret run but never become Ready (no restarts, no waiting reason: only
// the controller's progress deadline can tell).
func notReadyPodsUsing(t *testing.T, ns, secret string) {
	t.Helper()
	name := "notready-" + ns
	doc := fmt.Sprintf(`
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: %s}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  weight: 10
  selector:
    matchExpressions:
    - {key: .metadata.namespace, operator: In, values: [%q]}
    - {key: '[.spec.containers[].envFrom[]?.secretRef.name] | any(. == %q)', operator: In, values: ["true"]}
    - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
    - {key: .status.phase, operator: In, values: [Pending]}
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
      conditions:
      - {type: Ready, status: "False", lastTransitionTime: {{ $now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name }}
        image: {{ .image }}
        ready: false
        restartCount: 0
        state: {running: {startedAt: {{ $now | Quote }}}}
      {{ end }}
`, name, ns, secret)
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	dyn := dynamicClient(t)
	if _, err := dyn.Resource(stageGVR).Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating stage: %v", err)
	}
	t.Cleanup(func() { _ = dyn.Resource(stageGVR).Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// TestADegradedRolloutIsRolledBack: the new version's pods never become Ready, the
// controller's progress deadline passes and it reports the Rollout Degraded (and aborts
// it); rotor fails the rotation on that verdict and re-points the Rollout back, which
// the controller then brings back to Healthy on the old version.
func TestADegradedRolloutIsRolledBack(t *testing.T) {
	t.Parallel()
	clusterenv.RequireAddon(t, "argo-rollouts")
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	notReadyPodsUsing(t, ns, v2)
	canaryRollout(t, ns, "web", v1, "1h", "  progressDeadlineSeconds: 5\n  progressDeadlineAbort: true\n")
	waitRolloutHealthy(t, ns, "web")

	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--timeout", rotorTimeout(t))
	if r.Code == 0 {
		t.Fatalf("a rollout to a version whose pods never become ready succeeded: %+v", r)
	}
	out := r.Stdout + r.Stderr
	verdict := strings.Contains(out, "degraded") || strings.Contains(out, "aborted")
	if !strings.Contains(out, "Rollout/web") || !verdict {
		t.Fatalf("the failure does not name the controller's verdict:\n%s", out)
	}
	if !strings.Contains(out, "rolled back") {
		t.Fatalf("the Rollout was not rolled back:\n%s", out)
	}
	if secret, _, _, _, _ := rolloutState(context.Background(), t, ns, "web"); secret != v1 {
		t.Fatalf("the Rollout names %s after the rollback, want %s", secret, v1)
	}
	waitRolloutHealthy(t, ns, "web")
}

// TestARolloutWithAWorkloadRefIsRepointedThroughItsDeployment: an Argo Rollout that
// takes its pod template from a Deployment (spec.workloadRef) is found through that
// Deployment; rotor re-points the Deployment and waits for the Rollout.
func TestARolloutWithAWorkloadRefIsRepointedThroughItsDeployment(t *testing.T) {
	t.Parallel()
	clusterenv.RequireAddon(t, "argo-rollouts")
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	v1, v2 := twoVersions(t, ns, "app")
	d := deployment("tmpl", v1, 0)
	if _, err := c.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	applyYAML(t, dynamicClient(t), rolloutsGVR, ns, `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: tmpl}}
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: tmpl}
  strategy:
    canary:
      steps: [{setWeight: 50}, {pause: {duration: 2s}}]
`)
	waitRolloutHealthy(t, ns, "web")
	eventually(t, ns, "two v1 pods", func() bool { return podsByVersion(t, ns, "app")[v1] == 2 })

	r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--timeout", rotorTimeout(t))
	if r.Code != 0 {
		t.Fatalf("rollout: %+v", r)
	}
	if !strings.Contains(r.Stdout, "Deployment/tmpl") || !strings.Contains(r.Stdout, "judged by Rollout/web") {
		t.Fatalf("the plan does not re-point the Deployment judged by the Rollout:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "Rollout/web") || !strings.Contains(r.Stderr, "healthy: stable pod hash") {
		t.Fatalf("rotor did not wait for the Rollout:\n%s", r.Stderr)
	}
	if got := templateSecrets(t, ns, "tmpl"); got[0] != v2 {
		t.Fatalf("the Deployment names %v", got)
	}
	eventually(t, ns, "only v2 pods", func() bool { p := podsByVersion(t, ns, "app"); return p[v2] == 2 && p[v1] == 0 })
}

package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/controller"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/internal/rotation"
	"github.com/rotor-project/rotor/test/clusterenv"
)

func succeededOn(v string) func(*v1alpha1.SecretRotation) bool {
	return func(r *v1alpha1.SecretRotation) bool {
		return r.Status.Phase == v1alpha1.Succeeded && r.Status.TargetVersion == v && r.Status.ObservedGeneration == r.Generation
	}
}

// createVersion runs `rotor create` with the value on stdin at the clock's time and
// returns the version's name.
func createVersion(t *testing.T, clk *steppingClock, ns, fam, value string, extra ...string) string {
	t.Helper()
	r := run(t, clk, value, append([]string{"create", fam, "-n", ns, "--from-stdin", "token"}, extra...)...)
	if r.Code != 0 {
		t.Fatalf("create: %+v", r)
	}
	return strings.TrimSpace(r.Stdout)
}

// A SecretRotation with target latest rolls out the version `rotor create` makes:
// every consumer is re-pointed, the status journals it in kstatus form, and Events say
// so on the SecretRotation and on the consumer — none of which carries the value.
func TestControllerRollsOutANewVersionMadeByCreate(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	const canary = "canary-value-9f2c41d7"
	clk := newClock(t0)
	v1 := createVersion(t, clk, ns, "app", canary+"-1")
	createDeployment(t, ns, deployment("web", v1, 2))
	name := applySecretRotation(t, ns, `
apiVersion: rotor.dev/v1alpha1
kind: SecretRotation
metadata: {name: app}
spec: {family: app, target: latest}
`)
	p := startController(t, ns)
	waitRotation(t, p, ns, name, "Succeeded on "+v1, succeededOn(v1))

	clk.Step(time.Hour)
	v2 := createVersion(t, clk, ns, "app", canary+"-2")
	rot := waitRotation(t, p, ns, name, "Succeeded on "+v2, succeededOn(v2))
	if got := templateSecrets(t, ns, "web"); len(got) != 1 || got[0] != v2 {
		t.Fatalf("web names %v, want %s", got, v2)
	}
	waitAvailable(t, clusterenv.Client(t), ns, "web")
	if len(rot.Status.Consumers) != 1 || rot.Status.Consumers[0].From != v1 || rot.Status.Consumers[0].To != v2 {
		t.Fatalf("journal consumers: %+v", rot.Status.Consumers)
	}
	ready := meta.FindStatusCondition(rot.Status.Conditions, "Ready")
	if ready == nil || ready.Status != metav1.ConditionTrue || meta.FindStatusCondition(rot.Status.Conditions, "Reconciling") != nil {
		t.Fatalf("conditions %+v: want Ready=True and no Reconciling", rot.Status.Conditions)
	}
	var onRotation, onDeployment []string
	eventsAppear(t, ns, "events on the SecretRotation and the Deployment", func() bool {
		onRotation, onDeployment = eventsOf(t, ns, "SecretRotation", name), eventsOf(t, ns, "Deployment", "web")
		return containsLine(onRotation, "Normal Succeeded") && containsLine(onRotation, "Normal Repointed") && containsLine(onDeployment, "Normal Repointed")
	})
	for _, line := range append(append(onRotation, onDeployment...), p.log.String(), p.scrape(t)) {
		if strings.Contains(line, canary) {
			t.Fatalf("the value leaked: %q", line)
		}
	}
	out, err := yaml.Marshal(rot)
	if err != nil || strings.Contains(string(out), canary) {
		t.Fatalf("the value leaked into the status: %s", out)
	}
}

func containsLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// A version whose pods crash-loop is rolled back by the controller; the status says
// which workload failed and why, and the SecretRotation is Stalled (kstatus) until a
// newer version appears.
func TestControllerRollsBackABadVersion(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	clk := newClock(t0)
	v1 := createVersion(t, clk, ns, "app", "good")
	createDeployment(t, ns, deployment("web", v1, 2))
	name := applySecretRotation(t, ns, `
apiVersion: rotor.dev/v1alpha1
kind: SecretRotation
metadata: {name: app}
spec: {family: app, target: latest}
`)
	p := startController(t, ns)
	waitRotation(t, p, ns, name, "Succeeded on "+v1, succeededOn(v1))

	clk.Step(time.Hour)
	bad := clk.Now().UTC().Format("app-20060102150405")
	crashPodsUsing(t, ns, bad+"$")
	if v := createVersion(t, clk, ns, "app", "bad"); v != bad {
		t.Fatalf("created %s, want %s", v, bad)
	}
	rot := waitRotation(t, p, ns, name, "RolledBack", func(r *v1alpha1.SecretRotation) bool {
		return r.Status.TargetVersion == bad && r.Status.Phase == v1alpha1.RolledBack
	})
	if !strings.Contains(rot.Status.Message, "Deployment/web") || !strings.Contains(rot.Status.Message, "CrashLoopBackOff") {
		t.Fatalf("status message %q does not say which workload failed and why", rot.Status.Message)
	}
	stalled := meta.FindStatusCondition(rot.Status.Conditions, "Stalled")
	if stalled == nil || stalled.Status != metav1.ConditionTrue {
		t.Fatalf("conditions %+v: want Stalled=True", rot.Status.Conditions)
	}
	if got := templateSecrets(t, ns, "web"); len(got) != 1 || got[0] != v1 {
		t.Fatalf("web names %v after the rollback, want %s", got, v1)
	}
	eventsAppear(t, ns, "a Warning RolledBack event", func() bool {
		return containsLine(eventsOf(t, ns, "SecretRotation", name), "Warning RolledBack")
	})
	// The bad version is not tried again on its own.
	if r := getRotation(t, ns, name); r.Status.Phase != v1alpha1.RolledBack {
		t.Fatalf("phase %s after the rollback, want it to stay RolledBack", r.Status.Phase)
	}
}

// The CLI never fights the controller: on a family a SecretRotation owns, rollout and
// rollback change its spec.target (and say so) without touching any consumer, -A
// refuses naming the owner, and status shows the SecretRotation's phase.
func TestCLIDefersToSecretRotation(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v2, 1))
	name := applySecretRotation(t, ns, `
apiVersion: rotor.dev/v1alpha1
kind: SecretRotation
metadata: {name: app}
spec: {family: app, target: latest}
`)
	// The controller's journal of the rotation that moved web from v1 to v2.
	rot := getRotation(t, ns, name)
	rot.Status = v1alpha1.RotationStatus{Phase: v1alpha1.Succeeded, Planned: true, TargetVersion: v2, ObservedGeneration: rot.Generation,
		Consumers: []v1alpha1.ConsumerStatus{{Kind: "Deployment", Name: "web", From: v1, To: v2}}}
	u, err := toUnstructured(rot)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srClient(t, ns).UpdateStatus(context.Background(), u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ns)

	r := run(t, nil, "", "rollback", "app", "-n", ns, "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "SecretRotation "+name+" owns") || !strings.Contains(r.Stdout, "spec.target to "+v1) {
		t.Fatalf("rollback: %+v", r)
	}
	assertUnchanged(t, ns, before)
	if got := getRotation(t, ns, name).Spec.Target; got != v1 {
		t.Fatalf("spec.target %q after rollback, want %s", got, v1)
	}

	r = run(t, nil, "", "rollout", "app", "-n", ns, "--to", "latest", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "spec.target to latest") {
		t.Fatalf("rollout: %+v", r)
	}
	assertUnchanged(t, ns, before)
	if got := getRotation(t, ns, name).Spec.Target; got != "latest" {
		t.Fatalf("spec.target %q after rollout, want latest", got)
	}

	r = run(t, nil, "", "rollout", "app", "-A", "--to", v1, "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, ns+"/"+name) || !strings.Contains(r.Stderr, "nothing was changed") {
		t.Fatalf("rollout -A: %+v", r)
	}
	assertUnchanged(t, ns, before)

	r = run(t, nil, "", "status", "app", "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stderr, "SecretRotation "+ns+"/"+name+" drives \"app\": Succeeded") {
		t.Fatalf("status: %+v", r)
	}
}

func toUnstructured(rot *v1alpha1.SecretRotation) (*unstructured.Unstructured, error) {
	rot.APIVersion, rot.Kind = v1alpha1.APIVersion, v1alpha1.Kind
	b, err := yaml.Marshal(rot)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	return u, yaml.Unmarshal(b, &u.Object)
}

// A spec the API server can tell is wrong is refused at admission by the CRD's CEL
// rules, with a message that says what to write, and nothing is stored.
func TestSecretRotationRejectedByCELAtAdmission(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	installCRDs(t)
	cases := []struct{ spec, want string }{
		{`{family: app, target: other-20250101000000}`, "spec.target must be latest or a version of spec.family"},
		{`{family: app, target: latest, strategy: {type: bluegreen, steps: [50, 10, 100]}}`, "spec.strategy.steps must increase and end at 100"},
		{`{family: app, target: latest, strategy: {type: rolling, steps: [10, 100]}}`, "set spec.strategy.type to bluegreen"},
		{`{family: app, target: latest, watch: 5m}`, "spec.watch keeps an analysis running after the rotation: it needs spec.analysis"},
		{`{family: app, target: latest, timeout: soon}`, "spec.timeout must be a duration of at least 10s"},
		{`{family: app, target: latest, analysis: {}}`, "spec.analysis needs exactly one of templateRef"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			doc := "apiVersion: rotor.dev/v1alpha1\nkind: SecretRotation\nmetadata: {name: bad}\nspec: " + c.spec
			if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
				t.Fatal(err)
			}
			_, err := srClient(t, ns).Create(context.Background(), obj, metav1.CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("create: %v; want an admission error saying %q", err, c.want)
			}
			list, err := srClient(t, ns).List(context.Background(), metav1.ListOptions{})
			if err != nil || len(list.Items) != 0 {
				t.Fatalf("after the refusal: %v, %d stored", err, len(list.Items))
			}
		})
	}
	// A valid spec passes, and spec.family cannot change afterwards.
	name := applySecretRotation(t, ns, "apiVersion: rotor.dev/v1alpha1\nkind: SecretRotation\nmetadata: {name: good}\nspec: {family: app, target: latest}\n")
	u, err := srClient(t, ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(u.Object, "other", "spec", "family")
	if _, err := srClient(t, ns).Update(context.Background(), u, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "spec.family cannot change") {
		t.Fatalf("changing spec.family: %v", err)
	}
}

// The controller's journal store is the SecretRotation's status: a save fenced by the
// resourceVersion it read, so a driver that lost the race gets a ConflictError and
// stops writing; a save never changes what the user asked (the spec).
func TestStatusStoreIsFencedByResourceVersion(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	name := applySecretRotation(t, ns, "apiVersion: rotor.dev/v1alpha1\nkind: SecretRotation\nmetadata: {name: app}\nspec: {family: app, target: latest}\n")
	scheme, err := controller.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(clusterenv.RESTConfig(t), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	store := &journal.StatusStore{Client: c}
	ctx := context.Background()
	read, err := store.Get(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	first := read.DeepCopy()
	first.Status.Phase, first.Status.Message = v1alpha1.Progressing, "first driver"
	first.Spec.Target = "app-20250101000000"
	saved, err := store.Update(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Spec.Target != "latest" || saved.Status.Message != "first driver" {
		t.Fatalf("saved %+v: the status is written, the spec is not", saved)
	}
	second := read.DeepCopy()
	second.Status.Message = "second driver, read before the first saved"
	if _, err := store.Update(ctx, second); !rotation.IsConflict(err) {
		t.Fatalf("a save from a stale read: %v, want a ConflictError", err)
	}
	if got := getRotation(t, ns, name); got.Status.Message != "first driver" {
		t.Fatalf("status %q after the lost race, want the first driver's", got.Status.Message)
	}
	list, err := store.List(ctx, ns, "app")
	if err != nil || len(list) != 1 || list[0].Name != name {
		t.Fatalf("list: %v %v", list, err)
	}
	if _, err := store.Get(ctx, ns, "missing"); !errors.Is(err, rotation.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
}

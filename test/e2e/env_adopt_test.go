package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// unversioned creates the Secret named exactly fam (the dev-environment style).
func unversioned(t *testing.T, ns, fam string, kv ...string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fam}, Data: map[string][]byte{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Data[kv[i]] = []byte(kv[i+1])
	}
	if _, err := clusterClient(t).CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestAdoptMovesEveryConsumerOfTheUnversionedSecret: a team on one mutable Secret gets
// its first version, an immutable copy, and every consumer names it; the Secret stays.
func TestAdoptMovesEveryConsumerOfTheUnversionedSecret(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterClient(t)
	unversioned(t, ns, "app", "token", "canary-adopt-5e1f", "region", "eu")
	createDeployment(t, ns, deployment("web", "app", 2))
	createDeployment(t, ns, keyRefDeployment("worker", "app", "token"))
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "report"}, Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *",
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "r", Image: "registry.example/r:1"}},
			Volumes:    []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "app"}}}}}}}}}}
	if _, err := c.BatchV1().CronJobs(ns).Create(context.Background(), cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
`, ns)
	// Without adoption, a versioned environment does not touch the unversioned Secret,
	// and says how to get out.
	before := snapshot(t, ns)
	r := run(t, nil, "new", "rotate", "app", "--env", "staging", "--config", cfg, "--from-stdin", "token", "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "rotor adopt app --env staging") || !strings.Contains(r.Stderr, "still has the unversioned Secret app") {
		t.Fatalf("rotate before adoption: %+v", r)
	}
	assertUnchanged(t, ns, before)

	r = run(t, nil, "", "adopt", "app", "--env", "staging", "--config", cfg, "--yes")
	if r.Code != 0 || strings.Contains(r.Stdout+r.Stderr, "canary-adopt-5e1f") {
		t.Fatalf("adopt: %+v", r)
	}
	rot := lastRotation(t, ns, "app")
	first := rot.Status.TargetVersion
	if rot.Status.Phase != v1alpha1.Succeeded || !rot.Spec.Adopt || !strings.HasPrefix(first, "app-") {
		t.Fatalf("adoption: %s adopt=%v target %s", rot.Status.Phase, rot.Spec.Adopt, first)
	}
	if got := secretData(t, c, ns, first); got["token"] != "canary-adopt-5e1f" || got["region"] != "eu" || len(got) != 2 {
		t.Fatal("the first version is not a copy of the unversioned Secret")
	}
	s, err := c.CoreV1().Secrets(ns).Get(context.Background(), first, metav1.GetOptions{})
	if err != nil || s.Immutable == nil || !*s.Immutable {
		t.Fatalf("the first version is not immutable: %v", err)
	}
	for _, d := range []string{"web", "worker"} {
		if got := templateSecrets(t, ns, d); len(got) != 1 || got[0] != first {
			t.Fatalf("%s names %v, want %s", d, got, first)
		}
	}
	cron, err := c.BatchV1().CronJobs(ns).Get(context.Background(), "report", metav1.GetOptions{})
	if err != nil || cron.Spec.JobTemplate.Spec.Template.Spec.Volumes[0].Secret.SecretName != first {
		t.Fatalf("the CronJob was not adopted: %v", err)
	}
	if _, err := c.CoreV1().Secrets(ns).Get(context.Background(), "app", metav1.GetOptions{}); err != nil {
		t.Fatalf("the unversioned Secret is gone: %v", err)
	}
	// From now on a rotation works, and its rollback returns to the first version.
	if r := run(t, nil, "second", "rotate", "app", "--env", "staging", "--config", cfg, "--from-previous", "--set", "token", "--yes"); r.Code != 0 {
		t.Fatalf("rotate after adoption: %+v", r)
	}
	if got := templateSecrets(t, ns, "web"); got[0] == first {
		t.Fatalf("web still names %s", first)
	}
}

// TestARollbackOfAnAdoptionReturnsConsumersToTheUnversionedSecret.
func TestARollbackOfAnAdoptionReturnsConsumersToTheUnversionedSecret(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	unversioned(t, ns, "app", "token", "t")
	createDeployment(t, ns, deployment("web", "app", 1))
	cfg := writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
`, ns)
	if r := run(t, nil, "", "adopt", "app", "--env", "staging", "--config", cfg, "--yes"); r.Code != 0 {
		t.Fatalf("adopt: %+v", r)
	}
	if r := run(t, nil, "", "rollback", "app", "-n", ns, "--yes"); r.Code != 0 {
		t.Fatalf("rollback: %+v", r)
	}
	if got := templateSecrets(t, ns, "web"); len(got) != 1 || got[0] != "app" {
		t.Fatalf("web names %v after the rollback of the adoption, want app", got)
	}
}

// TestTheDevFlowReplacesInPlaceOnlyWhereAllowed: in the unversioned environment the
// Secret's data changes in place (other keys kept) and its consumers restart; a
// versioned environment refuses it and says why.
func TestTheDevFlowReplacesInPlaceOnlyWhereAllowed(t *testing.T) {
	t.Parallel()
	dev, stg := clusterenv.Namespace(t), clusterenv.Namespace(t)
	c := clusterClient(t)
	unversioned(t, dev, "app", "token", "canary-dev-old-1", "region", "eu")
	createDeployment(t, dev, deployment("web", "app", 2))
	v1 := version(t, newClock(t0), stg, "app", "token", "s")
	createDeployment(t, stg, deployment("web", v1, 1))
	cfg := writeConfig(t, `
environments:
- name: dev
  namespaces: [%s]
  versioned: false
- name: staging
  namespaces: [%s]
`, dev, stg)
	before := snapshot(t, stg)
	r := run(t, nil, "x", "rotate", "app", "--env", "staging", "--config", cfg, "--from-stdin", "token", "--in-place", "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "environment staging is versioned") || !strings.Contains(r.Stderr, "no version to roll back to") {
		t.Fatalf("--in-place in a versioned environment: %+v", r)
	}
	assertUnchanged(t, stg, before)
	r = run(t, nil, "", "adopt", "app", "--env", "dev", "--config", cfg, "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "environment dev is unversioned") {
		t.Fatalf("adopt in the unversioned environment: %+v", r)
	}

	r = run(t, nil, "canary-dev-new-2", "rotate", "app", "--env", "dev", "--config", cfg, "--from-previous", "--set", "token", "--yes")
	if r.Code != 0 || strings.Contains(r.Stdout+r.Stderr, "canary-dev") || !strings.Contains(r.Stdout, "restarted Deployment/web") {
		t.Fatalf("the dev flow: %+v", r)
	}
	if got := secretData(t, c, dev, "app"); got["token"] != "canary-dev-new-2" || got["region"] != "eu" {
		t.Fatal("the unversioned Secret's data was not replaced in place, keeping the other keys")
	}
	d, err := c.AppsV1().Deployments(dev).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" || templateSecrets(t, dev, "web")[0] != "app" {
		t.Fatalf("web was not restarted on the same Secret: %v", err)
	}
	waitAvailable(t, c, dev, "web")
	if vs := journals(t, dev, "app"); len(vs) != 0 {
		t.Fatalf("the dev flow made rotations: %d", len(vs))
	}
	// The unversioned environment's consumers are the family's, named by the Secret.
	r = run(t, nil, "", "status", "app", "--env", "dev", "--config", cfg, "-o", "json")
	var st struct {
		Scopes []struct {
			Consumers []rollout.ConsumerStatus `json:"consumers"`
		} `json:"scopes"`
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil || len(st.Scopes) != 1 || len(st.Scopes[0].Consumers) != 1 ||
		st.Scopes[0].Consumers[0].Name != "web" || len(st.Scopes[0].Consumers[0].Spec) != 1 || st.Scopes[0].Consumers[0].Spec[0] != "app" {
		t.Fatalf("status --env dev: %+v", r)
	}
}

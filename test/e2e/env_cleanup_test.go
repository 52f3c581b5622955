package e2e

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestCleanupTicksOldVersionDeletedInTheRotationThatReplacedIt: the journal of a rotation
// in an environment names the cleanup command of the environment's retention, and the
// cleanup that deletes the version it replaced writes the last item of its checklist.
func TestCleanupTicksOldVersionDeletedInTheRotationThatReplacedIt(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	v1 := version(t, newClock(t0), ns, "app", "token", "first")
	createDeployment(t, ns, deployment("web", v1, 1))
	cfg := writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
  retention: {retain: 0s, keep: 1}
`, ns)
	if r := run(t, nil, "second", "rotate", "app", "--env", "staging", "--config", cfg, "--from-stdin", "token", "--yes"); r.Code != 0 {
		t.Fatalf("rotate: %+v", r)
	}
	rot := lastRotation(t, ns, "app")
	if e := checklistEntry(rot, "old version eligible for cleanup"); e == nil || !strings.HasSuffix(e.Detail, "rotor cleanup app -n "+ns+" --retain 0s --keep 1") {
		t.Fatalf("eligible for cleanup: %+v", e)
	}
	// Until the old pod is gone (terminating included), it is a live reference to v1.
	eventually(t, ns, "no pod names "+v1, func() bool {
		pods, err := clusterenv.Client(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			for _, c := range p.Spec.Containers {
				for _, ef := range c.EnvFrom {
					if ef.SecretRef != nil && ef.SecretRef.Name == v1 {
						return false
					}
				}
			}
		}
		return true
	})

	clean := []string{"cleanup", "app", "-n", ns, "--retain", "0s", "--keep", "1", "--allow-breaking-undo", "--yes"}
	if r := run(t, nil, "", clean...); r.Code != 0 || !strings.Contains(r.Stdout, v1) || !strings.Contains(r.Stdout, "deleted") {
		t.Fatalf("cleanup: %+v", r)
	}
	rot = lastRotation(t, ns, "app")
	e := checklistEntry(rot, "old version deleted")
	if e == nil || e.Detail != v1+" deleted by rotor cleanup" || e.By == "" {
		t.Fatalf("old version deleted: %+v in %v", e, checklist(rot))
	}
	if r := run(t, nil, "", clean...); r.Code != 0 {
		t.Fatalf("a second cleanup: %+v", r)
	}
	if again := checklistEntry(lastRotation(t, ns, "app"), "old version deleted"); again == nil || !again.At.Equal(&e.At) {
		t.Fatalf("a second cleanup changed the entry: %+v, was %+v", again, e)
	}
}

// TestAVerificationTemplateNamingTheUnversionedSecretTestsEachNewVersion: the template a
// team writes before adoption names the Secret FAMILY (the only name it has then); the
// verification Jobs of the adoption and of every rotation after it run against the
// version under test, never the old values, and the plan says what the template is.
func TestAVerificationTemplateNamingTheUnversionedSecretTestsEachNewVersion(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterClient(t)
	unversioned(t, ns, "app", "token", "old")
	createDeployment(t, ns, deployment("web", "app", 1))
	verifyTemplate(t, c, ns, "app")
	cfg := writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
  verify: {job: integration-tests}
`, ns)
	r := run(t, nil, "", "adopt", "app", "--env", "staging", "--config", cfg, "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "the verification template (verify.job)") {
		t.Fatalf("adopt: %+v", r)
	}
	if r := run(t, nil, "new", "rotate", "app", "--env", "staging", "--config", cfg, "--from-previous", "--set", "token", "--yes"); r.Code != 0 {
		t.Fatalf("rotate: %+v", r)
	}
	rots := journals(t, ns, "app")
	jobs, err := c.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "rotor.dev/verify=integration-tests"})
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]string{}
	for _, j := range jobs.Items {
		tested[j.Annotations["rotor.dev/version"]] = j.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name
	}
	if len(rots) != 2 || len(tested) != 2 {
		t.Fatalf("%d rotations, verification Jobs by version %v", len(rots), tested)
	}
	for _, rot := range rots {
		v := rot.Status.TargetVersion
		if rot.Status.Phase != v1alpha1.Succeeded || tested[v] != v {
			t.Fatalf("rotation to %s (%s): its verification Job names %q", v, rot.Status.Phase, tested[v])
		}
	}
}

// checklistEntry is the entry of a rotation's checklist with that name, or nil.
func checklistEntry(rot *v1alpha1.SecretRotation, name string) *v1alpha1.ChecklistEntry {
	for i := range rot.Status.Checklist {
		if rot.Status.Checklist[i].Name == name {
			return &rot.Status.Checklist[i]
		}
	}
	return nil
}

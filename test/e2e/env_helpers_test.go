package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// writeConfig writes a rotor.yaml (from a format string: the namespaces and other
// values go in by Sprintf) into a directory of the test's own and returns its path.
func writeConfig(t *testing.T, format string, a ...any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rotor.yaml")
	body := "apiVersion: rotor.dev/v1alpha1\nkind: Config\n" + strings.TrimLeft(fmt.Sprintf(format, a...), "\n")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// version creates one version of fam in ns with the given data (values from literals:
// tests only) at the clock's time and returns its name.
func version(t *testing.T, clk *steppingClock, ns, fam string, kv ...string) string {
	t.Helper()
	args := []string{"create", fam, "-n", ns}
	for i := 0; i+1 < len(kv); i += 2 {
		args = append(args, "--from-literal", kv[i]+"="+kv[i+1])
	}
	r := run(t, clk, "", args...)
	if r.Code != 0 {
		t.Fatalf("create: %+v", r)
	}
	return strings.TrimSpace(r.Stdout)
}

// lastRotation is the newest journal of fam in ns.
func lastRotation(t *testing.T, ns, fam string) *v1alpha1.SecretRotation {
	t.Helper()
	rots := journals(t, ns, fam)
	if len(rots) == 0 {
		t.Fatalf("no rotation of %s in %s", fam, ns)
	}
	return rots[len(rots)-1]
}

// checklist are a rotation's checklist entry names, in order.
func checklist(rot *v1alpha1.SecretRotation) []string {
	var out []string
	for _, e := range rot.Status.Checklist {
		out = append(out, e.Name)
	}
	return out
}

func hasAll(have []string, want ...string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

// verifyTemplate creates a suspended Job named integration-tests in ns whose pod names
// secret: the template of an environment's verification.
func verifyTemplate(t *testing.T, c kubernetes.Interface, ns, secret string) {
	t.Helper()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "integration-tests"},
		Spec: batchv1.JobSpec{
			Suspend:      ptr.To(true),
			BackoffLimit: ptr.To(int32(0)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
				Name: "tests", Image: "registry.example/tests:1",
				EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}},
			}}}},
		},
	}
	if _, err := c.BatchV1().Jobs(ns).Create(context.Background(), job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// failVerificationJobs adds a kwok Stage that makes the pods of rotor's verification
// Jobs in ns fail, as a failing test run would.
func failVerificationJobs(t *testing.T, cfg *rest.Config, ns string) {
	t.Helper()
	addStage(t, cfg, "fail-verify-"+ns, fmt.Sprintf(`
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: fail-verify-%s
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  weight: 10
  selector:
    matchExpressions:
    - key: .metadata.namespace
      operator: In
      values: [%q]
    - key: .metadata.labels["rotor.dev/verify"]
      operator: Exists
    - key: .metadata.deletionTimestamp
      operator: DoesNotExist
    - key: .status.phase
      operator: In
      values: [Pending]
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Failed
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name }}
        image: {{ .image }}
        ready: false
        restartCount: 0
        state:
          terminated:
            exitCode: 1
            reason: Error
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}
`, ns, ns))
}

// finishedAt is when a rotation finished.
func finishedAt(t *testing.T, rot *v1alpha1.SecretRotation) time.Time {
	t.Helper()
	if rot.Status.Finished == nil {
		t.Fatalf("rotation %s has not finished: %+v", rot.Name, rot.Status)
	}
	return rot.Status.Finished.Time
}

// secretData is a Secret's data as strings.
func secretData(t *testing.T, c kubernetes.Interface, ns, name string) map[string]string {
	t.Helper()
	s, err := c.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	return out
}

func clusterClient(t *testing.T) kubernetes.Interface { return clusterenv.Client(t) }

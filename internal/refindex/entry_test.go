package refindex

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/kinds"
)

func podSpec(secrets ...string) corev1.PodSpec {
	c := corev1.Container{Name: "app"}
	for _, s := range secrets {
		c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: s}}})
	}
	return corev1.PodSpec{Containers: []corev1.Container{c}}
}

func TestTransformKeepsIdentityAndVersionsOnly(t *testing.T) {
	in := &interner{}
	big := map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(make([]byte, 4096))}
	cases := []struct {
		name     string
		obj      any
		kind     string
		live     bool
		ctl      bool
		versions []string
		labels   bool
	}{
		{"a Deployment keeps its labels and the versions its template names",
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: map[string]string{"app": "web"}, Annotations: big},
				Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("app-20250101000000", "app-20250101000000", "plain", "db-20250202000000")}}},
			"Deployment", true, false, []string{"app-20250101000000", "db-20250202000000"}, true},
		{"a running Pod of a ReplicaSet is live and controlled, without labels",
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", Labels: map[string]string{"app": "web"},
				OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-1", Controller: ptr.To(true)}}},
				Spec: podSpec("app-20250101000000"), Status: corev1.PodStatus{Phase: corev1.PodRunning}},
			"Pod", true, true, []string{"app-20250101000000"}, false},
		{"a finished Pod is not live",
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: "ns"}, Spec: podSpec("app-20250101000000"), Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
			"Pod", false, false, []string{"app-20250101000000"}, false},
		{"a completed Job is not live",
			&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("app-20250101000000")}},
				Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
			"Job", false, false, []string{"app-20250101000000"}, false},
		{"a ServiceAccount's image pull Secrets count",
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa", Namespace: "ns"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "reg-20250101000000"}}},
			"ServiceAccount", true, false, []string{"reg-20250101000000"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := in.transformer(kinds.Lookup(c.kind))(c.obj)
			if err != nil {
				t.Fatal(err)
			}
			e, ok := out.(*Entry)
			if !ok {
				t.Fatalf("got %T", out)
			}
			if e.Kind != c.kind || e.Live != c.live || e.Controlled != c.ctl || (e.Labels != nil) != c.labels {
				t.Fatalf("entry %+v", e)
			}
			var got []string
			for _, v := range e.Versions {
				got = append(got, v.Name())
			}
			if len(got) != len(c.versions) {
				t.Fatalf("versions %v, want %v", got, c.versions)
			}
			for i := range got {
				if got[i] != c.versions[i] {
					t.Fatalf("versions %v, want %v", got, c.versions)
				}
			}
			again, _ := in.transformer(kinds.Lookup(c.kind))(e)
			if again != e {
				t.Fatal("transform must be idempotent")
			}
		})
	}
}

func TestTransformSecretReadsPolicyAnnotations(t *testing.T) {
	in := &interner{}
	meta := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "app-20250101000000", Namespace: "ns",
		Annotations: map[string]string{"rotor.dev/expires-at": "2025-04-01T00:00:00Z", "rotor.dev/rotate-after": "30d", "other": "x"}}}
	out, _ := in.transformSecret(meta)
	v := out.(*VersionEntry)
	if v.Version.Family != "app" || !v.ExpiresAt.Equal(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)) || v.RotateAfter != 30*24*time.Hour || len(v.Annotations) != 0 {
		t.Fatalf("entry %+v", v)
	}
	plain, _ := in.transformSecret(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "ns"}})
	if plain.(*VersionEntry).Version.Family != "" {
		t.Fatal("a Secret that is not a version has no family")
	}
}

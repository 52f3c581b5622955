package verify

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/gate"
)

func template(secret string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "integration-tests", Namespace: "stg"},
		Spec: batchv1.JobSpec{
			Suspend:  ptr.To(true),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "x"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tests", batchv1.ControllerUidLabel: "x", batchv1.JobNameLabel: "integration-tests"}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
					Name: "t", Image: "tests:1",
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}},
				}}},
			},
		},
	}
}

func TestTheJobRunsTheTemplateAgainstTheNewVersion(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		want   string
	}{
		{"a reference to an older version names the new one", "app-20250101000000", "app-20250201000000"},
		{"a reference to the unversioned Secret names the new version (the first when adopting, every later one after)", "app", "app-20250201000000"},
		{"another family's Secret is left alone", "other-20250101000000", "other-20250101000000"},
		{"another Secret whose name starts with the family's is left alone", "app-config", "app-config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientset(template(tt.secret))
			spec, err := Template(context.Background(), c, "stg", "integration-tests")
			if err != nil {
				t.Fatal(err)
			}
			j := Job(spec, "app", "stg", "integration-tests", "rot-1", "app-20250201000000")
			if got := j.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name; got != tt.want {
				t.Fatalf("the Job names %q, want %q", got, tt.want)
			}
			if j.Spec.Selector != nil || j.Spec.Template.Labels[batchv1.ControllerUidLabel] != "" || *j.Spec.Suspend {
				t.Fatalf("the template Job's own selector, controller labels or suspension were copied: %+v", j.Spec)
			}
			env := map[string]string{}
			for _, e := range j.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
			if env["ROTOR_VERSION"] != "app-20250201000000" || env["ROTOR_FAMILY"] != "app" || env["ROTOR_NAMESPACE"] != "stg" {
				t.Fatalf("env %v", env)
			}
			if j.Name != JobName("integration-tests", "rot-1", "app-20250201000000") || j.Spec.Template.Labels[LabelVerify] != "integration-tests" {
				t.Fatalf("name %q labels %v", j.Name, j.Spec.Template.Labels)
			}
		})
	}
}

func TestAJobNameFitsALabelValueAndIsTheSameForTheSameRotation(t *testing.T) {
	long := strings.Repeat("a", 80)
	n := JobName(long, "r", "v")
	if len(n) > 63 || n != JobName(long, "r", "v") || n == JobName(long, "r", "w") {
		t.Fatalf("%q", n)
	}
}

func TestAMissingTemplateSaysWhatToCreate(t *testing.T) {
	_, err := Template(context.Background(), fake.NewClientset(), "stg", "integration-tests")
	if err == nil || !strings.Contains(err.Error(), "create a Job (suspended) or a CronJob") {
		t.Fatalf("%v", err)
	}
}

func TestTheVerdictIsTheJobsCondition(t *testing.T) {
	cond := func(typ batchv1.JobConditionType) *batchv1.Job {
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "stg"},
			Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: typ, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}}}}
	}
	tests := []struct {
		name string
		job  *batchv1.Job
		done bool
		want gate.Phase
	}{
		{"a running Job has no verdict yet", &batchv1.Job{}, false, "Running"},
		{"a complete Job passes", cond(batchv1.JobComplete), true, gate.Successful},
		{"a failed Job fails", cond(batchv1.JobFailed), true, gate.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, done := verdict(tt.job)
			if done != tt.done || v.Phase != tt.want {
				t.Fatalf("%+v %v", v, done)
			}
		})
	}
}

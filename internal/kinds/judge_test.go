package kinds

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func TestDeployment(t *testing.T) {
	dep := func(gen, observed int64, replicas, updated, total, available int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: total,
				AvailableReplicas: available, Conditions: conds},
		}
	}
	tests := []struct {
		name    string
		d       *appsv1.Deployment
		done    bool
		failed  bool
		message string
	}{
		{"a spec change not yet observed is progressing", dep(2, 1, 3, 3, 3, 3), false, false, "observed"},
		{"fewer updated replicas than wanted is progressing", dep(2, 2, 3, 1, 4, 3), false, false, "1 of 3 updated"},
		{"old replicas still running is progressing", dep(2, 2, 3, 3, 4, 3), false, false, "1 old replicas pending termination"},
		{"updated but not yet available is progressing", dep(2, 2, 3, 3, 3, 2), false, false, "2 of 3 updated replicas available"},
		{"all updated and available is done", dep(2, 2, 3, 3, 3, 3), true, false, "3/3"},
		{"a progress deadline exceeded is a failure", dep(2, 2, 3, 1, 4, 3, appsv1.DeploymentCondition{
			Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet web-1 has timed out"}), false, true, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := DeploymentState(tt.d)
			if st.Done != tt.done || st.Failed != tt.failed || !strings.Contains(st.Message, tt.message) {
				t.Fatalf("got %+v, want done=%v failed=%v message containing %q", st, tt.done, tt.failed, tt.message)
			}
		})
	}
}

func TestStatefulSet(t *testing.T) {
	sts := func(replicas, ready, updated int32, cur, upd string, partition *int32) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Generation: 1},
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To(replicas), UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}},
			Status:     appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: ready, UpdatedReplicas: updated, CurrentRevision: cur, UpdateRevision: upd},
		}
		if partition != nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition}
		}
		return s
	}
	tests := []struct {
		name string
		s    *appsv1.StatefulSet
		done bool
	}{
		{"pods not all ready is progressing", sts(3, 2, 3, "b", "b", nil), false},
		{"revisions differing is progressing", sts(3, 3, 2, "a", "b", nil), false},
		{"one revision, all ready is done", sts(3, 3, 3, "b", "b", nil), true},
		{"a partitioned rollout is done when the pods above the partition are updated", sts(3, 3, 1, "a", "b", ptr.To(int32(2))), true},
		{"a partitioned rollout waits for the pods above the partition", sts(3, 3, 0, "a", "b", ptr.To(int32(2))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if st := StatefulSetState(tt.s); st.Done != tt.done || st.Failed {
				t.Fatalf("got %+v, want done=%v", st, tt.done)
			}
		})
	}
}

func TestDaemonSet(t *testing.T) {
	ds := func(desired, updated, available int32) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{
			Spec:   appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: desired, UpdatedNumberScheduled: updated, NumberAvailable: available},
		}
	}
	tests := []struct {
		name string
		d    *appsv1.DaemonSet
		done bool
	}{
		{"not every node updated is progressing", ds(3, 2, 3), false},
		{"updated but not available is progressing", ds(3, 3, 2), false},
		{"every node updated and available is done", ds(3, 3, 3), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if st := DaemonSetState(tt.d); st.Done != tt.done {
				t.Fatalf("got %+v, want done=%v", st, tt.done)
			}
		})
	}
}

// rollout builds an Argo Rollout as its controller reports it.
func rollout(gen int64, status map[string]any, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": "web", "generation": gen},
		"spec": map[string]any{"strategy": map[string]any{"canary": map[string]any{"steps": []any{
			map[string]any{"setWeight": int64(50)}, map[string]any{"pause": map[string]any{"duration": "10s"}}}}}},
		"status": status,
	}}
	u.SetAnnotations(annotations)
	return u
}

func TestRollout(t *testing.T) {
	st := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	healthy := st("observedGeneration", "2", "phase", "Healthy", "stableRS", "abc", "currentPodHash", "abc")
	tests := []struct {
		name    string
		ro      *unstructured.Unstructured
		opts    JudgeOptions
		done    bool
		failed  bool
		message string
	}{
		{"a Healthy phase before the controller observed the new generation is not trusted", rollout(3, healthy, nil), JudgeOptions{}, false, false, "observed"},
		{"an observed Healthy rollout whose stable hash is the current one is done", rollout(2, healthy, nil), JudgeOptions{}, true, false, "abc"},
		{"Healthy with the stable hash still the old one waits for the steps", rollout(2,
			st("observedGeneration", "2", "phase", "Healthy", "stableRS", "old", "currentPodHash", "new"), nil), JudgeOptions{}, false, false, "every step"},
		{"a paused canary step is progress, with its step", rollout(2,
			st("observedGeneration", "2", "phase", "Paused", "message", "CanaryPauseStep", "currentStepIndex", int64(1),
				"pauseConditions", []any{map[string]any{"reason": "CanaryPauseStep"}}, "controllerPause", true), nil), JudgeOptions{}, false, false, "paused (step 1 of 2): CanaryPauseStep"},
		{"a progressing rollout is progress", rollout(2, st("observedGeneration", "2", "phase", "Progressing", "message", "more replicas need to be updated"), nil),
			JudgeOptions{}, false, false, "more replicas"},
		{"a degraded rollout is a failure", rollout(2, st("observedGeneration", "2", "phase", "Degraded", "message", "ProgressDeadlineExceeded: timed out"), nil),
			JudgeOptions{}, false, true, "degraded: ProgressDeadlineExceeded"},
		{"an aborted rollout is a failure", rollout(2, st("observedGeneration", "2", "phase", "Degraded", "abort", true, "message", "RolloutAborted: metric failed"), nil),
			JudgeOptions{}, false, true, "aborted: RolloutAborted"},
		{"an unpausing rollout is progress", rollout(2, st("observedGeneration", "2", "phase", "Paused", "controllerPause", true), nil), JudgeOptions{}, false, false, "unpause"},
		{"no phase yet waits for the controller", rollout(1, st("observedGeneration", "1"), nil), JudgeOptions{}, false, false, "controller"},
		{"with a workloadRef, a Healthy rollout that has not taken the Deployment's new generation is not done",
			rollout(2, st("observedGeneration", "2", "phase", "Healthy", "stableRS", "abc", "currentPodHash", "abc", "workloadObservedGeneration", "4"),
				map[string]string{"rollout.argoproj.io/workload-generation": "4"}), JudgeOptions{TemplateGeneration: 5}, false, false, "workloadRef"},
		{"with a workloadRef, a Healthy rollout that took the new generation is done",
			rollout(2, st("observedGeneration", "2", "phase", "Healthy", "stableRS", "abc", "currentPodHash", "abc", "workloadObservedGeneration", "5"),
				map[string]string{"rollout.argoproj.io/workload-generation": "5"}), JudgeOptions{TemplateGeneration: 5}, true, false, "healthy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RolloutState(tt.ro, tt.opts)
			if got.Done != tt.done || got.Failed != tt.failed || !strings.Contains(got.Message, tt.message) {
				t.Fatalf("got %+v, want done=%v failed=%v message containing %q", got, tt.done, tt.failed, tt.message)
			}
		})
	}
}

func TestTheRegistryJudgesAdaptTypedJudgesToUnstructuredObjects(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(2))},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 2, Replicas: 2, AvailableReplicas: 2}}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	if st := Lookup("Deployment").Judge(&unstructured.Unstructured{Object: u}, JudgeOptions{}); !st.Done {
		t.Fatalf("an available Deployment judged %+v", st)
	}
}

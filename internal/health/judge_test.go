package health

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
			st := Deployment(tt.d)
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
			if st := StatefulSet(tt.s); st.Done != tt.done || st.Failed {
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
			if st := DaemonSet(tt.d); st.Done != tt.done {
				t.Fatalf("got %+v, want done=%v", st, tt.done)
			}
		})
	}
}

func TestPodProblem(t *testing.T) {
	waiting := func(reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
	}
	tests := []struct {
		name   string
		status corev1.PodStatus
		want   string
	}{
		{"a crash-looping container is a problem", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{waiting("CrashLoopBackOff")}}, "CrashLoopBackOff"},
		{"a missing Secret key is a problem", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{waiting("CreateContainerConfigError")}}, "CreateContainerConfigError"},
		{"an image pull back-off is a problem", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{waiting("ImagePullBackOff")}}, "ImagePullBackOff"},
		{"a failing init container is a problem", corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{waiting("CrashLoopBackOff")}}, "CrashLoopBackOff"},
		{"a restart is a problem", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 1}}}, "restarted 1 times"},
		{"a container still being created is not a problem", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{waiting("ContainerCreating")}}, ""},
		{"a running container is not a problem", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1"}, Status: tt.status}
			got := PodProblem(p)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("PodProblem = %q, want %q", got, tt.want)
			}
		})
	}
}

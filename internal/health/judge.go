// Package health judges whether a workload has rolled out healthily, per kind, the way
// kubectl's rollout status does (observedGeneration, progress deadline, updated /
// ready / available replicas), and also looks at the pods of the new revision for the
// failures a rollout status never reports quickly: CrashLoopBackOff,
// CreateContainerConfigError, image pull errors and restarts. Waiting is done by watch.
package health

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// State is a judgement of a workload at one moment.
type State struct {
	// Done: the rollout is complete and available.
	Done bool
	// Failed: the rollout cannot complete (progress deadline exceeded, pods failing).
	Failed bool
	// Message says what is happening, for progress lines and reports.
	Message string
}

func progressing(format string, a ...any) State { return State{Message: fmt.Sprintf(format, a...)} }

// Deployment judges a Deployment as kubectl rollout status does.
func Deployment(d *appsv1.Deployment) State {
	if d.Generation > d.Status.ObservedGeneration {
		return progressing("waiting for the deployment spec update to be observed")
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return State{Failed: true, Message: fmt.Sprintf("progress deadline exceeded: %s", c.Message)}
		}
	}
	want := ptr.Deref(d.Spec.Replicas, 1)
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return progressing("%d of %d updated replicas", s.UpdatedReplicas, want)
	case s.Replicas > s.UpdatedReplicas:
		return progressing("%d old replicas pending termination", s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < s.UpdatedReplicas:
		return progressing("%d of %d updated replicas available", s.AvailableReplicas, s.UpdatedReplicas)
	}
	return State{Done: true, Message: fmt.Sprintf("%d/%d replicas updated and available", s.AvailableReplicas, want)}
}

// StatefulSet judges a StatefulSet as kubectl rollout status does, honouring a
// rolling update partition.
func StatefulSet(s *appsv1.StatefulSet) State {
	if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return State{Done: true, Message: "updateStrategy OnDelete: pods change only when deleted"}
	}
	if s.Status.ObservedGeneration == 0 || s.Generation > s.Status.ObservedGeneration {
		return progressing("waiting for the statefulset spec update to be observed")
	}
	want := ptr.Deref(s.Spec.Replicas, 1)
	if s.Status.ReadyReplicas < want {
		return progressing("%d of %d pods ready", s.Status.ReadyReplicas, want)
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && *ru.Partition > 0 {
		if s.Status.UpdatedReplicas < want-*ru.Partition {
			return progressing("%d of %d pods updated (partition %d)", s.Status.UpdatedReplicas, want-*ru.Partition, *ru.Partition)
		}
		return State{Done: true, Message: fmt.Sprintf("partitioned rollout complete: %d new pods", s.Status.UpdatedReplicas)}
	}
	if s.Status.UpdateRevision != s.Status.CurrentRevision {
		return progressing("%d of %d pods updated", s.Status.UpdatedReplicas, want)
	}
	return State{Done: true, Message: fmt.Sprintf("%d/%d pods updated and ready", s.Status.ReadyReplicas, want)}
}

// DaemonSet judges a DaemonSet as kubectl rollout status does.
func DaemonSet(d *appsv1.DaemonSet) State {
	if d.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		return State{Done: true, Message: "updateStrategy OnDelete: pods change only when deleted"}
	}
	if d.Generation > d.Status.ObservedGeneration {
		return progressing("waiting for the daemonset spec update to be observed")
	}
	s := d.Status
	if s.UpdatedNumberScheduled < s.DesiredNumberScheduled {
		return progressing("%d of %d updated pods scheduled", s.UpdatedNumberScheduled, s.DesiredNumberScheduled)
	}
	if s.NumberAvailable < s.DesiredNumberScheduled {
		return progressing("%d of %d updated pods available", s.NumberAvailable, s.DesiredNumberScheduled)
	}
	return State{Done: true, Message: fmt.Sprintf("%d/%d pods updated and available", s.NumberAvailable, s.DesiredNumberScheduled)}
}

// failingReasons are container waiting reasons that mean the new version does not work.
var failingReasons = map[string]bool{
	"CrashLoopBackOff":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"InvalidImageName":           true,
	"RunContainerError":          true,
}

// PodProblem returns why a pod is failing, or "" when it is not (yet) failing.
// Restarts count as failure: a container that restarted under the new version.
func PodProblem(p *corev1.Pod) string {
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && failingReasons[w.Reason] {
			return fmt.Sprintf("pod %s container %s: %s", p.Name, cs.Name, w.Reason)
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 && p.Spec.RestartPolicy == corev1.RestartPolicyAlways {
			return fmt.Sprintf("pod %s container %s: terminated with exit code %d (%s)", p.Name, cs.Name, t.ExitCode, t.Reason)
		}
		if cs.RestartCount > 0 {
			return fmt.Sprintf("pod %s container %s: restarted %d times", p.Name, cs.Name, cs.RestartCount)
		}
	}
	return ""
}

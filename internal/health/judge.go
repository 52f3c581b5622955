// Package health waits for a workload to roll out healthily: it watches the object and
// asks its kind's judge in the kinds registry (the way kubectl's rollout status does:
// observedGeneration, progress deadline, updated / ready / available replicas; an Argo
// Rollout's phase as its controller reports it), and it watches the pods of the new
// version for the failures a rollout status never reports quickly: CrashLoopBackOff,
// CreateContainerConfigError, image pull errors and restarts. Waiting is done by watch.
package health

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

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

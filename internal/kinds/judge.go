package kinds

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// State is a judgement of an object's rollout at one moment.
type State struct {
	// Done: the rollout is complete and available.
	Done bool
	// Failed: the rollout cannot complete (progress deadline exceeded, degraded, aborted).
	Failed bool
	// Message says what is happening, for progress lines and reports.
	Message string
}

// JudgeOptions carry what a judge cannot read from the object itself.
type JudgeOptions struct {
	// TemplateGeneration is the generation of the object this one takes its template
	// from (an Argo Rollout's workloadRef Deployment) after the re-point: the judge
	// waits until the object has resolved it.
	TemplateGeneration int64
}

// Judge judges an object's rollout.
type Judge func(u *unstructured.Unstructured, o JudgeOptions) State

func progressing(format string, a ...any) State { return State{Message: fmt.Sprintf(format, a...)} }

// JudgeAtOnce is the judge of kinds whose re-point takes effect without a rollout of
// their own.
func JudgeAtOnce(*unstructured.Unstructured, JudgeOptions) State {
	return State{Done: true, Message: "takes effect without a rollout"}
}

// typedJudge adapts a judge of a typed object.
func typedJudge[T any](judge func(*T) State) Judge {
	return func(u *unstructured.Unstructured, _ JudgeOptions) State {
		var obj T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &obj); err != nil {
			return progressing("cannot read %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		return judge(&obj)
	}
}

// DeploymentState judges a Deployment as kubectl rollout status does.
func DeploymentState(d *appsv1.Deployment) State {
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

// StatefulSetState judges a StatefulSet as kubectl rollout status does, honouring a
// rolling update partition.
func StatefulSetState(s *appsv1.StatefulSet) State {
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

// DaemonSetState judges a DaemonSet as kubectl rollout status does.
func DaemonSetState(d *appsv1.DaemonSet) State {
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

// Argo Rollouts annotation on a Rollout with a workloadRef: the referenced workload's
// generation the controller has resolved the template from.
const rolloutWorkloadGeneration = "rollout.argoproj.io/workload-generation"

// RolloutState judges an Argo Rollout from what its controller reports, as the Argo
// Rollouts kubectl plugin does (utils/rollout.GetRolloutPhase): nothing is trusted
// before status.observedGeneration (a string) equals metadata.generation, nor, with a
// workloadRef, before the controller resolved the Deployment's new generation; then
// status.phase decides. Healthy counts only when the stable pod hash is the current
// one (every step passed); Degraded or an abort is a failure; Paused and Progressing
// are progress (a timed pause step passes by itself; an indefinite one waits for a
// promotion until the caller's timeout).
func RolloutState(u *unstructured.Unstructured, o JudgeOptions) State {
	status, _, _ := unstructured.NestedMap(u.Object, "status")
	str := func(k string) string { s, _ := status[k].(string); return s }
	if og, err := strconv.ParseInt(str("observedGeneration"), 10, 64); err != nil || og < u.GetGeneration() {
		return progressing("waiting for the rollout spec update to be observed")
	}
	if cp, _ := status["controllerPause"].(bool); cp {
		if pcs, _ := status["pauseConditions"].([]any); len(pcs) == 0 {
			return progressing("waiting for the rollout to unpause")
		}
	}
	if o.TemplateGeneration > 0 {
		wg, _ := strconv.ParseInt(u.GetAnnotations()[rolloutWorkloadGeneration], 10, 64)
		wog, _ := strconv.ParseInt(str("workloadObservedGeneration"), 10, 64)
		if wg < o.TemplateGeneration || wog < o.TemplateGeneration {
			return progressing("waiting for the rollout to take the new template from its workloadRef")
		}
	}
	msg := str("message")
	step := ""
	if idx, ok, _ := unstructured.NestedInt64(u.Object, "status", "currentStepIndex"); ok {
		steps, _, _ := unstructured.NestedSlice(u.Object, "spec", "strategy", "canary", "steps")
		step = fmt.Sprintf(" (step %d of %d)", idx, len(steps))
	}
	if abort, _ := status["abort"].(bool); abort {
		return State{Failed: true, Message: "aborted: " + orText(msg, "the rollout was aborted")}
	}
	switch str("phase") {
	case "Degraded":
		return State{Failed: true, Message: "degraded: " + orText(msg, "the controller reports Degraded")}
	case "Healthy":
		stable, current := str("stableRS"), str("currentPodHash")
		if stable == "" || stable != current {
			return progressing("waiting for every step to complete%s", step)
		}
		return State{Done: true, Message: fmt.Sprintf("healthy: stable pod hash %s", stable)}
	case "Paused":
		return progressing("paused%s: %s", step, orText(msg, "waiting for its pause to end or a promotion"))
	case "Progressing":
		return progressing("progressing%s: %s", step, orText(msg, "updating"))
	}
	return progressing("waiting for the Argo Rollouts controller to report a phase")
}

func orText(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// specSelector is spec.selector, or the selector string the controller publishes in
// status.selector (an Argo Rollout with a workloadRef has no spec.selector).
func specSelector(u *unstructured.Unstructured) (labels.Selector, error) {
	if m, ok, _ := unstructured.NestedMap(u.Object, "spec", "selector"); ok {
		var sel metav1.LabelSelector
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &sel); err != nil {
			return nil, fmt.Errorf("%s %s: reading spec.selector: %w", u.GetKind(), u.GetName(), err)
		}
		return metav1.LabelSelectorAsSelector(&sel)
	}
	if s, ok, _ := unstructured.NestedString(u.Object, "status", "selector"); ok && s != "" {
		return labels.Parse(s)
	}
	return nil, fmt.Errorf("%s %s has no pod selector", u.GetKind(), u.GetName())
}

// mapSelector is a ReplicationController's spec.selector (a label map).
func mapSelector(u *unstructured.Unstructured) (labels.Selector, error) {
	m, _, err := unstructured.NestedStringMap(u.Object, "spec", "selector")
	if err != nil {
		return nil, err
	}
	return labels.SelectorFromSet(m), nil
}

// DesiredPods is how many pods an object wants: spec.replicas (1 when unset), or for
// a DaemonSet the nodes it is scheduled on.
func DesiredPods(u *unstructured.Unstructured) int32 {
	if n, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); ok {
		return int32(n)
	}
	if n, ok, _ := unstructured.NestedInt64(u.Object, "status", "desiredNumberScheduled"); ok {
		return int32(n)
	}
	return 1
}

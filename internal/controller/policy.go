package controller

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rotation"
)

// Decisions a person gives a rotation paused on an inconclusive analysis, as the value
// of AnnotationDecision on the SecretRotation.
const (
	AnnotationDecision = "rotor.dev/decision"
	DecisionContinue   = "continue"
	DecisionRollback   = "rollback"
)

// target resolves spec.target: the newest version of the family in the namespace for
// "latest" ("" when there is none), the named version otherwise.
func (r *Reconciler) target(ctx context.Context, rot *v1alpha1.SecretRotation) (string, error) {
	if rot.Spec.Target != v1alpha1.LatestTarget {
		return rot.Spec.Target, nil
	}
	return r.index.Latest(ctx, rot.Namespace, rot.Spec.Family)
}

// needNew reports whether a final rotation is followed by a new one: the target moved
// (a new version with `latest`, or the spec names another version), or the spec
// changed since a rotation that did not succeed (try again).
func needNew(rot *v1alpha1.SecretRotation, target string) bool {
	st := &rot.Status
	switch {
	case target == "":
		return false
	case target != st.TargetVersion:
		return true
	}
	return rot.Generation != st.ObservedGeneration && st.Phase != v1alpha1.Succeeded
}

// superseded reports whether the spec was changed to another target while a rotation
// is in progress: that rotation is aborted (rolled back), then the new one starts. A
// new version arriving under `latest` does not abort: it waits for the rotation in
// progress to end.
func superseded(rot *v1alpha1.SecretRotation, target string) bool {
	st := &rot.Status
	return rot.Generation != st.ObservedGeneration && target != "" && st.TargetVersion != "" &&
		target != st.TargetVersion && !st.AbortRequested && st.Phase != v1alpha1.RollingBack
}

// ownerOf is the SecretRotation that drives rot's family in its namespace: the oldest.
func (r *Reconciler) ownerOf(ctx context.Context, rot *v1alpha1.SecretRotation) (string, error) {
	var list v1alpha1.SecretRotationList
	if err := r.client.List(ctx, &list, client.InNamespace(rot.Namespace)); err != nil {
		return "", err
	}
	cands := []v1alpha1.SecretRotation{*rot}
	for _, o := range list.Items {
		if o.Spec.Family == rot.Spec.Family && o.Name != rot.Name && o.DeletionTimestamp == nil {
			cands = append(cands, o)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i].CreationTimestamp, cands[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return cands[i].Name < cands[j].Name
	})
	return cands[0].Name, nil
}

// settle records that a final rotation's status reflects the current spec.
func (r *Reconciler) settle(ctx context.Context, rot *v1alpha1.SecretRotation) error {
	if rot.Generation == rot.Status.ObservedGeneration {
		return nil
	}
	next := rot.DeepCopy()
	observe(next)
	_, err := r.store.Update(ctx, next)
	if rotation.IsConflict(err) {
		return nil // the next event brings the newer object
	}
	return err
}

// observe marks the status and its conditions as reflecting the current generation.
func observe(rot *v1alpha1.SecretRotation) {
	rot.Status.ObservedGeneration = rot.Generation
	for i := range rot.Status.Conditions {
		rot.Status.Conditions[i].ObservedGeneration = rot.Generation
	}
}

// stall records that the controller will not drive rot, and why, in kstatus form.
func (r *Reconciler) stall(ctx context.Context, rot *v1alpha1.SecretRotation, reason, msg string) error {
	next := rot.DeepCopy()
	st := &next.Status
	now := metav1.NewTime(r.clock.Now())
	set := func(typ string, s metav1.ConditionStatus) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: rot.Generation, LastTransitionTime: now})
	}
	set(rotation.ConditionReady, metav1.ConditionFalse)
	set(rotation.ConditionStalled, metav1.ConditionTrue)
	meta.RemoveStatusCondition(&st.Conditions, rotation.ConditionReconciling)
	st.Message, st.ObservedGeneration = msg, rot.Generation
	if equalStatus(rot, next) {
		return nil
	}
	r.events.rotation(next, warning, reason, "%s", msg)
	_, err := r.store.Update(ctx, next)
	if rotation.IsConflict(err) {
		return nil
	}
	return err
}

func equalStatus(a, b *v1alpha1.SecretRotation) bool {
	if a.Status.Message != b.Status.Message || a.Status.ObservedGeneration != b.Status.ObservedGeneration || len(a.Status.Conditions) != len(b.Status.Conditions) {
		return false
	}
	for _, c := range b.Status.Conditions {
		o := meta.FindStatusCondition(a.Status.Conditions, c.Type)
		if o == nil || o.Status != c.Status || o.Reason != c.Reason || o.Message != c.Message || o.ObservedGeneration != c.ObservedGeneration {
			return false
		}
	}
	return true
}

// decision applies a person's answer to an inconclusive analysis (AnnotationDecision)
// and removes the annotation. done is set when the reconcile should end here.
func (r *Reconciler) decision(ctx context.Context, rot *v1alpha1.SecretRotation) (next *v1alpha1.SecretRotation, done bool, err error) {
	answer, ok := rot.Annotations[AnnotationDecision]
	if !ok {
		return nil, false, nil
	}
	if rot.Status.PendingDecision != nil {
		switch answer {
		case DecisionContinue, DecisionRollback:
			saved, err := r.engine.Decide(ctx, rot, answer == DecisionContinue, "annotation "+AnnotationDecision)
			if err != nil {
				if rotation.IsConflict(err) {
					return nil, true, nil
				}
				return nil, true, err
			}
			next = typed(saved)
			r.events.rotation(next, normal, "Decided", "the inconclusive analysis was answered: %s", answer)
		default:
			r.events.rotation(rot, warning, "BadDecision", "%s=%q is neither %s nor %s", AnnotationDecision, answer, DecisionContinue, DecisionRollback)
		}
	}
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, AnnotationDecision))
	obj := &v1alpha1.SecretRotation{}
	obj.Namespace, obj.Name = rot.Namespace, rot.Name
	if err := r.client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(repoint.FieldManager)); err != nil {
		return nil, true, err
	}
	if next == nil {
		return nil, true, nil // the annotation's removal brings this rotation back
	}
	next.ResourceVersion = obj.ResourceVersion
	return next, false, nil
}

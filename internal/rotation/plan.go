package rotation

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
)

// RequestOf is the planner's request for a rotation's spec.
func RequestOf(rot *v1alpha1.SecretRotation) (rollout.Request, error) {
	req := rollout.Request{Family: rot.Spec.Family, Namespace: rot.Namespace, To: rot.Spec.Target, Back: rot.Spec.Action == v1alpha1.ActionRollback}
	if s := rot.Spec.Scope.Selector; s != nil {
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			return req, fmt.Errorf("spec.scope.selector: %w", err)
		}
		req.Selector = sel
	}
	for _, w := range rot.Spec.Scope.Workloads {
		req.Workloads = append(req.Workloads, repoint.Target{Kind: w.Kind, Name: w.Name})
	}
	return req, nil
}

// New is a rotation of one batch of a plan: the items of one namespace. Its status
// holds the plan (consumers with from and to), phase Pending.
func New(spec v1alpha1.RotationSpec, namespace string, items []rollout.Item, by string) *v1alpha1.SecretRotation {
	rot := &v1alpha1.SecretRotation{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.Kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace},
		Spec:       spec,
	}
	if rot.Spec.Action == "" {
		rot.Spec.Action = v1alpha1.ActionRollout
	}
	if rot.Spec.Strategy.Type == "" {
		rot.Spec.Strategy.Type = v1alpha1.Rolling
	}
	SetPlan(rot, &rollout.Plan{Family: spec.Family, Items: items})
	rot.Status.Phase = v1alpha1.Pending
	rot.Status.By = by
	return rot
}

// SetPlan writes a plan's items into the rotation's status.
func SetPlan(rot *v1alpha1.SecretRotation, p *rollout.Plan) {
	st := &rot.Status
	st.Planned = true
	st.Consumers = nil
	targets := map[string]bool{}
	for _, it := range p.Items {
		c := v1alpha1.ConsumerStatus{
			Kind: it.Consumer.Kind, Name: it.Consumer.Name, To: it.To, Skip: it.Skip, Note: it.Note, Rolls: it.Rolls,
			APIVersion: apiVersionOf(it.Consumer.Kind), UID: it.UID, PreviousAnnotation: it.Annotation, Drift: it.Drift,
		}
		if j := it.Consumer.Judged; j != nil {
			c.Judge = &v1alpha1.WorkloadRef{Kind: j.Kind, Name: j.Name}
		}
		if len(it.Changes) > 0 {
			c.From = it.Changes[0].From
		} else {
			c.From = it.Current
		}
		if !it.Skip {
			targets[it.To] = true
		}
		st.Consumers = append(st.Consumers, c)
	}
	st.TargetVersion = ""
	if len(targets) == 1 {
		for v := range targets {
			st.TargetVersion = v
		}
	}
	st.Steps = []int32{100}
	if rot.Spec.Strategy.Type == v1alpha1.BlueGreen && len(rot.Spec.Strategy.Steps) > 0 {
		st.Steps = append([]int32(nil), rot.Spec.Strategy.Steps...)
	}
}

// apiVersionOf is the apiVersion of a consumer kind, for the journal.
func apiVersionOf(kind string) string {
	if k := kinds.Lookup(kind); k != nil {
		return k.APIVersion()
	}
	return ""
}

// NewRollback is the rotation that reverses of: every consumer of's journal moved
// (and that still exists there) goes back to the version it had before, read from of's
// journal, not from any annotation.
func NewRollback(of *v1alpha1.SecretRotation, by string, t time.Time) *v1alpha1.SecretRotation {
	rot := &v1alpha1.SecretRotation{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.Kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: of.Namespace},
		Spec: v1alpha1.RotationSpec{Family: of.Spec.Family, Action: v1alpha1.ActionRollback, Reverts: of.Name,
			Strategy: v1alpha1.Strategy{Type: v1alpha1.Rolling}, Timeout: of.Spec.Timeout, Run: of.Spec.Run, Batch: of.Spec.Batch},
		Status: v1alpha1.RotationStatus{Phase: v1alpha1.Pending, Planned: true, By: by, Steps: []int32{100}},
	}
	targets := map[string]bool{}
	for _, c := range of.Status.Consumers {
		if c.Skip || c.From == "" || c.From == c.To {
			continue
		}
		rot.Status.Consumers = append(rot.Status.Consumers, v1alpha1.ConsumerStatus{
			Kind: c.Kind, APIVersion: c.APIVersion, Name: c.Name, UID: c.UID, From: c.To, To: c.From, Rolls: c.Rolls, Judge: c.Judge, Drift: c.Drift,
		})
		targets[c.From] = true
	}
	if len(targets) == 1 {
		for v := range targets {
			rot.Status.TargetVersion = v
		}
	}
	check(&rot.Status, CheckCreated, t)
	return rot
}

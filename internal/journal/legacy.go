package journal

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/record"
)

// fromLegacy converts a record of an earlier rotor (record.json) into a rotation. A
// record left Progressing by a run that died reads as Failed: no journal says where it
// stopped, and no later run will resume it.
func fromLegacy(cm *corev1.ConfigMap) (*v1alpha1.SecretRotation, error) {
	var r record.Record
	if err := json.Unmarshal([]byte(cm.Data[legacyKey]), &r); err != nil {
		return nil, fmt.Errorf("reading rotation record %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	rot := &v1alpha1.SecretRotation{
		Spec: v1alpha1.RotationSpec{Family: r.Family, Target: r.To, Action: v1alpha1.ActionRollout},
		Status: v1alpha1.RotationStatus{
			Phase: v1alpha1.Phase(r.Phase), Message: r.Message, TargetVersion: r.To, Planned: true,
			By: r.By, Started: ptrTime(r.Started), Steps: []int32{100},
		},
	}
	if r.Action == record.Rollback {
		rot.Spec.Action = v1alpha1.ActionRollback
	}
	switch r.Strategy {
	case "bluegreen":
		rot.Spec.Strategy.Type = v1alpha1.BlueGreen
	default:
		rot.Spec.Strategy.Type = v1alpha1.Rolling
	}
	if r.Phase == record.Progressing {
		rot.Status.Phase, rot.Status.Message = v1alpha1.Failed, "interrupted: recorded by an earlier rotor whose run ended without finishing"
	}
	if r.Finished != nil {
		rot.Status.Finished = ptrTime(*r.Finished)
	}
	for _, c := range r.Consumers {
		rot.Status.Consumers = append(rot.Status.Consumers, v1alpha1.ConsumerStatus{Kind: c.Kind, Name: c.Name, From: c.From, To: c.To, Observed: c.To})
	}
	if w := r.Watch; w != nil {
		rot.Status.Watch = &v1alpha1.WatchStatus{Started: metav1.NewTime(w.Started), Duration: w.Duration, Analysis: w.Analysis, Phase: w.Phase}
	}
	rot.Annotations = map[string]string{AnnotationLegacy: "true"}
	return rot, nil
}

// AnnotationLegacy marks a rotation read from a record of an earlier rotor.
const AnnotationLegacy = "rotor.dev/legacy-record"

func ptrTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

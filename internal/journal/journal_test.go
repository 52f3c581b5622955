package journal

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/record"
)

func TestDecode(t *testing.T) {
	started := time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC)
	legacy := func(r record.Record) *corev1.ConfigMap {
		b, _ := json.Marshal(r)
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "rotor-rotation-x", Namespace: "ns", ResourceVersion: "7"}, Data: map[string]string{legacyKey: string(b)}}
	}
	rot := &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Name: "rotor-rotation-y", Namespace: "ns"},
		Spec:   v1alpha1.RotationSpec{Family: "app", Target: "latest", Strategy: v1alpha1.Strategy{Type: v1alpha1.BlueGreen, Steps: []int32{50, 100}}},
		Status: v1alpha1.RotationStatus{Phase: v1alpha1.Progressing, TargetVersion: "app-20250723110000", Intent: &v1alpha1.Intent{Action: "Scale", Step: 0, At: metav1.NewTime(started)}}}
	journalCM, err := encode(rot)
	if err != nil {
		t.Fatal(err)
	}
	journalCM.ResourceVersion = "9"
	tests := []struct {
		name  string
		cm    *corev1.ConfigMap
		check func(t *testing.T, got *v1alpha1.SecretRotation)
	}{
		{"a journal reads back as written, with the ConfigMap's resourceVersion", journalCM, func(t *testing.T, got *v1alpha1.SecretRotation) {
			if got.ResourceVersion != "9" || got.Status.Intent == nil || got.Status.Intent.Action != "Scale" || got.Spec.Strategy.Steps[0] != 50 || got.Status.Phase != v1alpha1.Progressing {
				t.Fatalf("%+v", got)
			}
			if journalCM.Labels[LabelPhase] != "Progressing" {
				t.Fatalf("labels %v", journalCM.Labels)
			}
		}},
		{"a finished record of an earlier rotor reads as a finished rotation", legacy(record.Record{Family: "app", Namespace: "ns", Action: record.Rollout, To: "app-2", Phase: record.Succeeded,
			Started: started, Finished: &started, Consumers: []record.Consumer{{Kind: "Deployment", Name: "web", From: "app-1", To: "app-2"}}}), func(t *testing.T, got *v1alpha1.SecretRotation) {
			if got.Status.Phase != v1alpha1.Succeeded || got.Status.Consumers[0].From != "app-1" || got.Status.Finished == nil || got.Spec.Action != v1alpha1.ActionRollout || got.Annotations[AnnotationLegacy] != "true" {
				t.Fatalf("%+v", got)
			}
		}},
		{"a record an earlier rotor left in progress reads as failed (no journal says where it stopped)", legacy(record.Record{Family: "app", Namespace: "ns", Action: record.Rollback, Phase: record.Progressing, Started: started}), func(t *testing.T, got *v1alpha1.SecretRotation) {
			if got.Status.Phase != v1alpha1.Failed || got.Spec.Action != v1alpha1.ActionRollback {
				t.Fatalf("%+v", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.cm)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
	if _, err := Decode(&corev1.ConfigMap{Data: map[string]string{DataKey: `{"apiVersion":"rotor.dev/v9"}`}}); err == nil {
		t.Fatal("a journal of an unknown apiVersion was read")
	}
}

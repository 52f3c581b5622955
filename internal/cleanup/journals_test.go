package cleanup

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

func TestPrunableJournals(t *testing.T) {
	now := time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	journal := func(ns string, daysAgo int, phase v1alpha1.Phase) *v1alpha1.SecretRotation {
		at := metav1.NewTime(now.Add(-time.Duration(daysAgo) * day))
		r := &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%03d", ns, daysAgo)},
			Status: v1alpha1.RotationStatus{Phase: phase, Started: &at}}
		if phase.Final() {
			r.Status.Finished = &at
		}
		return r
	}
	p := JournalPolicy{Retain: 90 * day, Keep: 2}
	tests := []struct {
		name string
		rots []*v1alpha1.SecretRotation
		want []string
	}{
		{"journals younger than the retention are kept", []*v1alpha1.SecretRotation{journal("a", 10, v1alpha1.Succeeded), journal("a", 20, v1alpha1.Succeeded), journal("a", 30, v1alpha1.Succeeded)}, nil},
		{"old journals beyond the newest few are pruned", []*v1alpha1.SecretRotation{journal("a", 100, v1alpha1.Succeeded), journal("a", 200, v1alpha1.RolledBack), journal("a", 300, v1alpha1.Succeeded)}, []string{"a-300"}},
		{"an unfinished journal is never pruned, however old", []*v1alpha1.SecretRotation{journal("a", 1, v1alpha1.Succeeded), journal("a", 2, v1alpha1.Succeeded), journal("a", 400, v1alpha1.Progressing)}, nil},
		{"the newest few are counted per namespace", []*v1alpha1.SecretRotation{journal("a", 100, v1alpha1.Succeeded), journal("b", 100, v1alpha1.Succeeded), journal("b", 200, v1alpha1.Succeeded), journal("b", 300, v1alpha1.Failed)}, []string{"b-300"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range PrunableJournals(tt.rots, p, now) {
				got = append(got, r.Name)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("pruned %v, want %v", got, tt.want)
			}
		})
	}
}

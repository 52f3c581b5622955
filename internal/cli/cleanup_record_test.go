package cli

import (
	"reflect"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
)

func TestCleanupTicksOldVersionDeletedOnTheRotationsThatReplacedIt(t *testing.T) {
	rot := func(name, from, to string, checks ...string) *v1alpha1.SecretRotation {
		r := &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Name: name}}
		r.Status.Consumers = []v1alpha1.ConsumerStatus{{Kind: "Deployment", Name: "api", From: from, To: to}}
		for _, c := range checks {
			r.Status.Checklist = append(r.Status.Checklist, v1alpha1.ChecklistEntry{Name: c})
		}
		return r
	}
	now := time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		rots    []*v1alpha1.SecretRotation
		deleted []string
		want    map[string]string
	}{
		{"a rotation whose old version was deleted gets the entry, naming it",
			[]*v1alpha1.SecretRotation{rot("r1", "app-1", "app-2", checkEligible)}, []string{"app-1"},
			map[string]string{"r1": "app-1 deleted by rotor cleanup"}},
		{"a rotation whose old version is kept gets none",
			[]*v1alpha1.SecretRotation{rot("r1", "app-1", "app-2", checkEligible), rot("r2", "app-2", "app-3", checkEligible)}, []string{"app-1"},
			map[string]string{"r1": "app-1 deleted by rotor cleanup"}},
		{"a rotation that never became eligible for cleanup (outside an environment, or failed) gets none",
			[]*v1alpha1.SecretRotation{rot("r1", "app-1", "app-2")}, []string{"app-1"}, map[string]string{}},
		{"a rotation that has the entry already keeps the first one",
			[]*v1alpha1.SecretRotation{rot("r1", "app-1", "app-2", checkEligible, checkDeleted)}, []string{"app-1"}, map[string]string{}},
		{"the version a rotation moved consumers to is not its old version",
			[]*v1alpha1.SecretRotation{rot("r1", "app-1", "app-2", checkEligible)}, []string{"app-2"}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deleted := map[string]bool{}
			for _, d := range tt.deleted {
				deleted[d] = true
			}
			got := map[string]string{}
			for name, e := range deletedEntries(tt.rots, deleted, "alice", now) {
				if e.Name != checkDeleted || e.By != "alice" || !e.At.Time.Equal(now) {
					t.Fatalf("entry %+v", e)
				}
				got[name] = e.Detail
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("entries %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTheVerificationTemplateIsExplainedWhereAPlanListsIt(t *testing.T) {
	item := func(kind, name string, skip bool) rollout.Item {
		return rollout.Item{Consumer: rollout.Consumer{Target: repoint.Target{Kind: kind, Namespace: "stg", Name: name}}, Skip: skip, Note: "as the kind says"}
	}
	plan := &rollout.Plan{Family: "app", Items: []rollout.Item{
		item("Job", "integration-tests", true), item("Job", "nightly", true), item("Deployment", "integration-tests", false)}}
	noteVerifyTemplate(plan, "integration-tests")
	var notes []string
	for _, it := range plan.Items {
		notes = append(notes, it.Consumer.Kind+"/"+it.Consumer.Name+": "+it.Note)
	}
	sort.Strings(notes)
	want := []string{
		"Deployment/integration-tests: as the kind says",
		"Job/integration-tests: the verification template (verify.job): it is not re-pointed; each verification Job rotor makes from it names the new version",
		"Job/nightly: as the kind says",
	}
	if !reflect.DeepEqual(notes, want) {
		t.Fatalf("notes %v, want %v", notes, want)
	}
}

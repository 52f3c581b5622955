package promotion

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

var now = time.Date(2025, 7, 24, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }

// staged is a staging rotation that started and finished the given times ago.
func staged(name string, started, finished time.Duration, mutate ...func(*v1alpha1.SecretRotation)) *v1alpha1.SecretRotation {
	r := &v1alpha1.SecretRotation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "stg"},
		Spec:       v1alpha1.RotationSpec{Family: "app", Action: v1alpha1.ActionRollout, Run: "run-" + name},
		Status: v1alpha1.RotationStatus{Phase: v1alpha1.Succeeded, TargetVersion: "app-20250723100000", Started: ago(started), Finished: ago(finished),
			Gates: []v1alpha1.GateResult{{Gate: "analysis", Phase: "Successful"}, {Post: true, Gate: "verify", Phase: "Successful"}}},
	}
	for _, m := range mutate {
		m(r)
	}
	return r
}

func input(stg []*v1alpha1.SecretRotation, prd []*v1alpha1.SecretRotation, mutate ...func(*Input)) Input {
	in := Input{Family: "app", Environment: "production", Now: now,
		Target:   []Scope{{Namespace: "prd", Rotations: prd}},
		Requires: []Requirement{{Environment: "staging", Soak: 24 * time.Hour, Verify: true, Analysis: true, Scopes: []Scope{{Namespace: "stg", Rotations: stg}}}}}
	for _, m := range mutate {
		m(&in)
	}
	return in
}

func TestDecide(t *testing.T) {
	prd := func(name string, started time.Duration, phase v1alpha1.Phase) *v1alpha1.SecretRotation {
		r := staged(name, started, started-time.Minute)
		r.Namespace, r.Status.Phase = "prd", phase
		return r
	}
	tests := []struct {
		name   string
		in     Input
		unmet  []string // substrings, one per unmet condition
		soakAt time.Time
	}{
		{"a staging rotation that soaked a day, verified and analysed, may be promoted",
			input([]*v1alpha1.SecretRotation{staged("s1", 26*time.Hour, 25*time.Hour)}, nil), nil, now.Add(-time.Hour)},
		{"before its soak ends it may not, and the gate says when it ends",
			input([]*v1alpha1.SecretRotation{staged("s1", 3*time.Hour, 2*time.Hour)}, nil),
			[]string{"its soak of 1d ends 2025-07-25T10:00:00Z (in 22h)"}, now.Add(22 * time.Hour)},
		{"without any staging rotation production may not go first",
			input(nil, nil), []string{"staging has no rotation of app in namespace stg: every change goes through staging first: rotor rotate app --env staging"}, time.Time{}},
		{"the latest staging rotation counts: one rolled back after a good one blocks",
			input([]*v1alpha1.SecretRotation{staged("s1", 50*time.Hour, 49*time.Hour), staged("s2", 26*time.Hour, 25*time.Hour, func(r *v1alpha1.SecretRotation) {
				r.Status.Phase, r.Status.Message = v1alpha1.RolledBack, "Deployment/api: CrashLoopBackOff"
			})}, nil), []string{"did not succeed (RolledBack: Deployment/api: CrashLoopBackOff)"}, time.Time{}},
		{"a staging rotation still running blocks",
			input([]*v1alpha1.SecretRotation{staged("s1", time.Hour, 0, func(r *v1alpha1.SecretRotation) { r.Status.Phase, r.Status.Finished = v1alpha1.Progressing, nil })}, nil),
			[]string{"has not finished (Progressing)"}, time.Time{}},
		{"a staging rotation reverted since blocks",
			input([]*v1alpha1.SecretRotation{staged("s1", 26*time.Hour, 25*time.Hour, func(r *v1alpha1.SecretRotation) { r.Status.RevertedBy = "rb" })}, nil),
			[]string{"was reverted by rb"}, time.Time{}},
		{"a staging rotation whose verification Job did not run blocks when staging verifies",
			input([]*v1alpha1.SecretRotation{staged("s1", 26*time.Hour, 25*time.Hour, func(r *v1alpha1.SecretRotation) { r.Status.Gates = r.Status.Gates[:1] })}, nil),
			[]string{"did not pass a verification Job"}, now.Add(-time.Hour)},
		{"a staging rotation without analysis blocks when staging analyses",
			input([]*v1alpha1.SecretRotation{staged("s1", 26*time.Hour, 25*time.Hour, func(r *v1alpha1.SecretRotation) { r.Status.Gates = r.Status.Gates[1:] })}, nil),
			[]string{"was not analysed"}, now.Add(-time.Hour)},
		{"a staging rotation promoted already (production rotated after it started) blocks",
			input([]*v1alpha1.SecretRotation{staged("s1", 50*time.Hour, 49*time.Hour)}, []*v1alpha1.SecretRotation{prd("p1", 40*time.Hour, v1alpha1.Succeeded)}),
			[]string{"is not newer than production's last rotation p1"}, now.Add(-25 * time.Hour)},
		{"a failed production rotation does not count as the last: the same staging rotation may be promoted again",
			input([]*v1alpha1.SecretRotation{staged("s1", 50*time.Hour, 49*time.Hour)}, []*v1alpha1.SecretRotation{prd("p1", 40*time.Hour, v1alpha1.RolledBack)}),
			nil, now.Add(-25 * time.Hour)},
		{"a rotation ID picks that rotation instead of the latest",
			input([]*v1alpha1.SecretRotation{staged("s1", 50*time.Hour, 49*time.Hour), staged("s2", 2*time.Hour, time.Hour)}, nil, func(in *Input) { in.Run = "run-s1" }),
			nil, now.Add(-25 * time.Hour)},
		{"an unknown rotation ID is named",
			input([]*v1alpha1.SecretRotation{staged("s1", 50*time.Hour, 49*time.Hour)}, nil, func(in *Input) { in.Run = "run-x" }),
			[]string{"staging has no rotation run-x of app in namespace stg"}, time.Time{}},
		{"every cluster of a fleet must have soaked; the other cluster's missing rotation is named with its context",
			input([]*v1alpha1.SecretRotation{staged("s1", 26*time.Hour, 25*time.Hour)}, nil, func(in *Input) {
				in.Requires[0].Scopes[0].Context = "stg-eu"
				in.Requires[0].Scopes = append(in.Requires[0].Scopes, Scope{Context: "stg-us", Namespace: "stg"})
			}), []string{"staging has no rotation of app in namespace stg of cluster stg-us"}, now.Add(-time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.in)
			if len(d.Unmet) != len(tt.unmet) {
				t.Fatalf("unmet %v, want %d like %v", d.Unmet, len(tt.unmet), tt.unmet)
			}
			for i, want := range tt.unmet {
				if !strings.Contains(d.Unmet[i].Reason, want) {
					t.Fatalf("unmet[%d] = %q, want it to say %q", i, d.Unmet[i].Reason, want)
				}
			}
			if !d.SoakEnds.Equal(tt.soakAt) {
				t.Fatalf("soak ends %s, want %s", d.SoakEnds, tt.soakAt)
			}
			if d.Allowed() != (len(tt.unmet) == 0) {
				t.Fatal("Allowed disagrees with Unmet")
			}
		})
	}
}

func TestAnAllowedPromotionLinksTheStagingRotationAndRecordsItsMilestones(t *testing.T) {
	s := staged("s1", 26*time.Hour, 25*time.Hour, func(r *v1alpha1.SecretRotation) {
		r.Status.Checklist = []v1alpha1.ChecklistEntry{{Name: "all pods on the new version", At: *ago(25*time.Hour + time.Minute)}, {Name: "verified", At: *ago(25 * time.Hour)}}
	})
	d := Decide(input([]*v1alpha1.SecretRotation{s}, nil))
	if !d.Allowed() || len(d.Links) != 1 || d.Links[0].Name != "s1" || d.Links[0].Run != "run-s1" || d.Links[0].Environment != "staging" {
		t.Fatalf("%+v", d)
	}
	var names []string
	for _, e := range d.Checklist {
		names = append(names, e.Name+"@"+e.At.UTC().Format(time.RFC3339))
	}
	want := "staging deployed@2025-07-23T10:59:00Z staging verified@2025-07-23T11:00:00Z soak complete@2025-07-24T11:00:00Z"
	if strings.Join(names, " ") != want {
		t.Fatalf("checklist %v\nwant %s", names, want)
	}
}

package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rotation"
)

func rotationAt(gen, observed int64, phase v1alpha1.Phase, target string) *v1alpha1.SecretRotation {
	r := &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns", Generation: gen},
		Spec: v1alpha1.RotationSpec{Family: "app", Target: "latest"}}
	r.Status.Phase, r.Status.TargetVersion, r.Status.ObservedGeneration, r.Status.Planned = phase, target, observed, phase != ""
	return r
}

const (
	v1 = "app-20250101000000"
	v2 = "app-20250201000000"
)

func TestNeedNew(t *testing.T) {
	cases := []struct {
		name   string
		rot    *v1alpha1.SecretRotation
		target string
		want   bool
	}{
		{"a new version after a success starts a rotation", rotationAt(1, 1, v1alpha1.Succeeded, v1), v2, true},
		{"the same version after a success does nothing", rotationAt(1, 1, v1alpha1.Succeeded, v1), v1, false},
		{"a spec change after a success to the same version does nothing", rotationAt(2, 1, v1alpha1.Succeeded, v1), v1, false},
		{"a rolled-back version is not retried on its own", rotationAt(1, 1, v1alpha1.RolledBack, v2), v2, false},
		{"a rolled-back version is retried after a spec change", rotationAt(2, 1, v1alpha1.RolledBack, v2), v2, true},
		{"a newer version after a rollback starts a rotation", rotationAt(1, 1, v1alpha1.RolledBack, v1), v2, true},
		{"no version at all starts nothing", rotationAt(2, 1, v1alpha1.Failed, ""), "", false},
		{"the first version after a failed plan starts a rotation", rotationAt(1, 1, v1alpha1.Failed, ""), v1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := needNew(c.rot, c.target); got != c.want {
				t.Fatalf("needNew = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSuperseded(t *testing.T) {
	aborting := rotationAt(2, 1, v1alpha1.Progressing, v2)
	aborting.Status.AbortRequested = true
	cases := []struct {
		name   string
		rot    *v1alpha1.SecretRotation
		target string
		want   bool
	}{
		{"a spec naming another version aborts the rotation in progress", rotationAt(2, 1, v1alpha1.Progressing, v2), v1, true},
		{"a new version under latest waits for the rotation in progress", rotationAt(1, 1, v1alpha1.Progressing, v1), v2, false},
		{"a spec change to the same target does not abort", rotationAt(2, 1, v1alpha1.Paused, v2), v2, false},
		{"an abort already asked for is not asked again", aborting, v1, false},
		{"a rotation rolling back is left to finish", rotationAt(2, 1, v1alpha1.RollingBack, v2), v1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := superseded(c.rot, c.target); got != c.want {
				t.Fatalf("superseded = %v, want %v", got, c.want)
			}
		})
	}
}

func TestEffectiveSpec(t *testing.T) {
	r := &Reconciler{}
	rot := rotationAt(1, 1, "", "")
	rot.Status.Planned = false
	watch := metav1.Duration{Duration: time.Hour}
	rot.Spec.Watch = &watch
	rot.Spec.Analysis = &v1alpha1.Analysis{}
	e := r.effective(rot, v2)
	if e.Spec.Target != v2 || e.Spec.Action != v1alpha1.ActionRollout || e.Spec.Strategy.Type != v1alpha1.Rolling {
		t.Fatalf("unplanned: target %q action %q strategy %q", e.Spec.Target, e.Spec.Action, e.Spec.Strategy.Type)
	}
	if e.Spec.Analysis.Duration == nil || e.Spec.Analysis.Duration.Duration != time.Hour {
		t.Fatalf("spec.watch should become the analysis after the last step, got %v", e.Spec.Analysis.Duration)
	}
	if rot.Spec.Target != "latest" || rot.Spec.Analysis.Duration != nil {
		t.Fatal("effective must not change the stored spec")
	}
	planned := rotationAt(1, 1, v1alpha1.Progressing, v1)
	if got := r.effective(planned, v2).Spec.Target; got != v1 {
		t.Fatalf("a planned rotation keeps its journal's target, got %q", got)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		msg, typ, reason string
	}{
		{"FAILED: Deployment/web: CrashLoopBackOff", warning, "Failed"},
		{"rolling back: every consumer goes back to where it came from", warning, "RollingBack"},
		{"rolled back to app-20250101000000", warning, "RolledBack"},
		{"re-pointing 2 consumer(s) to app-20250201000000", normal, "Repointing"},
		{"re-pointed 1 reference(s) app-20250101000000 → app-20250201000000", normal, "Repointed"},
		{"gate analysis: Successful error rate 0.01 < 0.05", normal, "GatePassed"},
		{"gate analysis: Failed error rate 0.2", warning, "GateFailed"},
		{"gate analysis: Inconclusive no data", warning, "GateInconclusive"},
		{"step 1 of 3 passed: 10% on app-20250201000000", normal, "StepPassed"},
		{"step 1 (10%) healthy; pausing 5s", normal, "StepHealthy"},
		{"10%: green 1, blue 9 of 10 replicas", normal, "Scaled"},
		{"created green copy web-rotor-green on app-20250201000000", normal, "GreenCreated"},
		{"paused: paused (spec.paused)", normal, "Paused"},
		{"1 of 3 updated replicas are available", normal, "Progress"},
	}
	for _, c := range cases {
		t.Run(c.reason+" "+c.msg, func(t *testing.T) {
			typ, reason := classify(rotation.Event{Message: c.msg})
			if typ != c.typ || reason != c.reason {
				t.Fatalf("classify(%q) = %s %s, want %s %s", c.msg, typ, reason, c.typ, c.reason)
			}
		})
	}
}

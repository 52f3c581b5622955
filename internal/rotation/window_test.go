package rotation

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/gate"
)

func TestWindowState(t *testing.T) {
	// clk is Wednesday 2025-07-23 11:00 UTC (13:00 in Berlin).
	win := func(days []string, start, end, tz string) func(*v1alpha1.SecretRotation) {
		return func(r *v1alpha1.SecretRotation) {
			r.Spec.Window = &v1alpha1.WindowPolicy{Windows: []v1alpha1.MaintenanceWindow{{Days: days, Start: start, End: end, TimeZone: tz}}}
		}
	}
	tests := []struct {
		name string
		rot  *v1alpha1.SecretRotation
		want WindowState
	}{
		{"a rotation without windows may always step", rolling(v1alpha1.Progressing), WindowState{}},
		{"inside a window it may step until the window ends", rolling(v1alpha1.Progressing, win(nil, "12:30", "14:00", "Europe/Berlin")),
			WindowState{Ends: time.Date(2025, 7, 23, 12, 0, 0, 0, time.UTC)}},
		{"outside it waits for the next opening, in the window's time zone", rolling(v1alpha1.Progressing, win([]string{"Tue", "Thu"}, "02:00", "05:00", "Europe/Berlin")),
			WindowState{Closed: true, Opens: time.Date(2025, 7, 24, 0, 0, 0, 0, time.UTC)}},
		{"a window the rotation cannot read closes it with the reason", rolling(v1alpha1.Progressing, win(nil, "02:00", "05:00", "Mars/Olympus")),
			WindowState{Closed: true, Problem: `spec.window.windows[0]: unknown time zone "Mars/Olympus": use an IANA name such as Europe/Berlin or UTC`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := windowState(tt.rot, clk.Now())
			if !got.Ends.Equal(tt.want.Ends) || !got.Opens.Equal(tt.want.Opens) || got.Closed != tt.want.Closed || got.Problem != tt.want.Problem {
				t.Fatalf("windowState = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAWindowPauseIsJournaledAndItsResumeGivesTheRotationItsTimeAgain(t *testing.T) {
	rot := bluegreen(withGreen)
	opens := clk.Now().Add(20 * time.Hour)
	applyStatus(rot, Action{Type: ActPause, Window: true, Opens: opens, Reason: "the maintenance window ended"}, Observation{Now: clk.Now()})
	if rot.Status.Phase != v1alpha1.Paused || rot.Status.WindowOpens == nil || !rot.Status.WindowOpens.Equal(&metav1.Time{Time: opens}) {
		t.Fatalf("after the pause: %+v", rot.Status)
	}
	later := opens.Add(time.Minute)
	applyStatus(rot, Action{Type: ActResume, Window: true}, Observation{Now: later})
	if rot.Status.Phase != v1alpha1.Progressing || rot.Status.WindowOpens != nil {
		t.Fatalf("after the resume: %+v", rot.Status)
	}
	if got, want := rot.Status.Deadline.Time, later.Add(DefaultTimeout); !got.Equal(want) {
		t.Fatalf("deadline %s, want %s (the timeout again from the resume)", got, want)
	}
	var names []string
	for _, e := range rot.Status.Checklist {
		names = append(names, e.Name)
	}
	if len(names) != 2 || names[0] != CheckWindowWait || names[1] != CheckWindowReopen {
		t.Fatalf("checklist %v", names)
	}
}

func TestAPassedVerificationIsOnTheChecklistAndAFailedOneNamesItsGate(t *testing.T) {
	rot := rolling(v1alpha1.Progressing, func(r *v1alpha1.SecretRotation) {
		r.Spec.Verify = &v1alpha1.Verify{Job: "integration-tests"}
		r.Spec.Analysis = &v1alpha1.Analysis{Duration: &metav1.Duration{Duration: time.Hour}}
	})
	o := Observation{Now: clk.Now()}
	applyStatus(rot, Action{Type: ActStartGate, Post: true}, o)
	if g := rot.Status.Gates[0].Gate; g != "analysis+verify" {
		t.Fatalf("post gate named %q", g)
	}
	failed := rot.DeepCopy()
	applyStatus(failed, Action{Type: ActRecordGate, Post: true, Verdict: &gate.Verdict{Gate: "verify", Phase: gate.Failed, Message: "Job failed"}}, o)
	if g := failed.Status.Gates[0].Gate; g != "verify" {
		t.Fatalf("a failed verification is recorded as gate %q", g)
	}
	applyStatus(rot, Action{Type: ActRecordGate, Post: true, Verdict: &gate.Verdict{Phase: gate.Successful}}, o)
	var names []string
	for _, e := range rot.Status.Checklist {
		names = append(names, e.Name)
	}
	if len(names) != 2 || names[0] != CheckVerified || names[1] != CheckWatched {
		t.Fatalf("checklist %v", names)
	}
}

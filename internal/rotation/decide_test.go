package rotation

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/health"
)

const (
	v1 = "app-20250101000000"
	v2 = "app-20250201000000"
)

var clk = clocktesting.NewFakeClock(time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC))

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(clk.Now().Add(d)); return &t }

// rolling is a planned rolling rotation of one Deployment from v1 to v2, in phase.
func rolling(phase v1alpha1.Phase, mutate ...func(*v1alpha1.SecretRotation)) *v1alpha1.SecretRotation {
	rot := &v1alpha1.SecretRotation{
		ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"},
		Spec:       v1alpha1.RotationSpec{Family: "app", Target: v2, Action: v1alpha1.ActionRollout, Strategy: v1alpha1.Strategy{Type: v1alpha1.Rolling}},
		Status: v1alpha1.RotationStatus{Phase: phase, Planned: true, TargetVersion: v2, Steps: []int32{100}, Started: at(-time.Minute), Deadline: at(time.Hour),
			Consumers: []v1alpha1.ConsumerStatus{{Kind: "Deployment", Name: "web", From: v1, To: v2, Rolls: true}}},
	}
	for _, m := range mutate {
		m(rot)
	}
	return rot
}

func bluegreen(mutate ...func(*v1alpha1.SecretRotation)) *v1alpha1.SecretRotation {
	return rolling(v1alpha1.Progressing, append([]func(*v1alpha1.SecretRotation){func(r *v1alpha1.SecretRotation) {
		r.Spec.Strategy = v1alpha1.Strategy{Type: v1alpha1.BlueGreen, Steps: []int32{50, 100}, Pause: &metav1.Duration{Duration: time.Minute}}
		r.Status.Steps = []int32{50, 100}
	}}, mutate...)...)
}

func withGreen(r *v1alpha1.SecretRotation) {
	r.Status.Green = []v1alpha1.GreenStatus{{Of: "web", Name: "web-rotor-green", Replicas: 4}}
}

// cluster is an observation: web names the given version with blue replicas, healthy
// or not; green (if any) has the given replicas.
func cluster(version string, blue int32, healthy bool, green ...int32) Observation {
	o := Observation{Now: clk.Now(), Missing: map[string]bool{},
		Consumers: []ObservedConsumer{{Versions: []string{version}, Replicas: blue, Health: health.State{Done: healthy}}}}
	for _, g := range green {
		o.Green = append(o.Green, ObservedGreen{Exists: g >= 0, Replicas: g, Health: health.State{Done: healthy}})
	}
	return o
}

func with(o Observation, mutate func(*Observation)) Observation { mutate(&o); return o }

func TestDecide(t *testing.T) {
	passed := func(step int32, post bool) func(*v1alpha1.SecretRotation) {
		return func(r *v1alpha1.SecretRotation) {
			r.Status.Gates = append(r.Status.Gates, v1alpha1.GateResult{Step: step, Post: post, Gate: "analysis", Phase: "Successful"})
		}
	}
	running := func(step int32) func(*v1alpha1.SecretRotation) {
		return func(r *v1alpha1.SecretRotation) {
			r.Status.Gates = append(r.Status.Gates, v1alpha1.GateResult{Step: step, Gate: "analysis", Phase: gateRunning})
		}
	}
	repointed := func(r *v1alpha1.SecretRotation) { r.Status.Repointed, r.Status.StepStarted = at(0), at(0) }
	healthy := func(r *v1alpha1.SecretRotation) { r.Status.Healthy = at(0) }
	analysis := func(r *v1alpha1.SecretRotation) { r.Spec.Analysis = &v1alpha1.Analysis{} }
	gates := func(o *Observation) { o.HasGates = true }
	tests := []struct {
		name string
		rot  *v1alpha1.SecretRotation
		obs  Observation
		want Action
	}{
		{"a rotation without a plan is planned first", rolling("", func(r *v1alpha1.SecretRotation) { r.Status.Planned = false }), Observation{}, Action{Type: ActPlan}},
		{"a planned rotation starts when its target exists", rolling(v1alpha1.Pending), cluster(v1, 2, true), Action{Type: ActStart}},
		{"a planned rotation whose target was deleted fails before changing anything", rolling(v1alpha1.Pending),
			with(cluster(v1, 2, true), func(o *Observation) { o.Missing[v2] = true }), Action{Type: ActFail}},
		{"a started rolling rotation re-points the consumers not yet on the target", rolling(v1alpha1.Progressing), cluster(v1, 2, false), Action{Type: ActRepoint, Consumers: []int{0}}},
		{"a rerun finds the consumer already re-pointed by the dead run and records it, without re-pointing again", rolling(v1alpha1.Progressing), cluster(v2, 2, false), Action{Type: ActMark, Mark: MarkRepointed}},
		{"a consumer rolling out is waited for", rolling(v1alpha1.Progressing, repointed), cluster(v2, 2, false), Action{Type: ActWait}},
		{"a consumer whose new pods crash fails the rotation", rolling(v1alpha1.Progressing, repointed),
			with(cluster(v2, 2, false), func(o *Observation) { o.Consumers[0].Problem = "CrashLoopBackOff" }), Action{Type: ActFail}},
		{"healthy consumers are recorded healthy", rolling(v1alpha1.Progressing, repointed), cluster(v2, 2, true), Action{Type: ActMark, Mark: MarkHealthy}},
		{"a healthy rolling rotation without gates succeeds", rolling(v1alpha1.Progressing, repointed, healthy), cluster(v2, 2, true), Action{Type: ActFinish, Phase: v1alpha1.Succeeded}},
		{"with an analysis the gate starts while the consumers roll out", rolling(v1alpha1.Progressing, repointed, analysis), with(cluster(v2, 2, false), gates), Action{Type: ActStartGate}},
		{"a gate the dead run started is started again here", rolling(v1alpha1.Progressing, repointed, analysis, running(0)), with(cluster(v2, 2, false), gates), Action{Type: ActStartGate}},
		{"a running gate keeps a healthy rotation waiting", rolling(v1alpha1.Progressing, repointed, healthy, analysis, running(0)),
			with(cluster(v2, 2, true), func(o *Observation) { o.HasGates = true; o.Gate = &GateState{} }), Action{Type: ActWait}},
		{"a finished gate's verdict is recorded", rolling(v1alpha1.Progressing, repointed, analysis, running(0)),
			with(cluster(v2, 2, false), func(o *Observation) {
				o.HasGates = true
				o.Gate = &GateState{Done: true, Verdict: gate.Verdict{Phase: gate.Failed}}
			}), Action{Type: ActRecordGate, Verdict: &gate.Verdict{Phase: gate.Failed}}},
		{"a failed gate fails the rotation even while pods still roll out", rolling(v1alpha1.Progressing, repointed, analysis, func(r *v1alpha1.SecretRotation) {
			r.Status.Gates = []v1alpha1.GateResult{{Gate: "analysis", Phase: "Failed", Message: "error-rate"}}
		}), with(cluster(v2, 2, false), gates), Action{Type: ActFail, Failure: &v1alpha1.Failure{Object: "gate analysis", Reason: "Failed: error-rate"}}},
		{"an inconclusive gate pauses when the policy says a person decides", rolling(v1alpha1.Progressing, repointed, func(r *v1alpha1.SecretRotation) {
			r.Spec.Analysis = &v1alpha1.Analysis{Inconclusive: v1alpha1.InconclusivePause}
			r.Status.Gates = []v1alpha1.GateResult{{Gate: "analysis", Phase: "Inconclusive", Message: "no data"}}
		}), with(cluster(v2, 2, false), gates), Action{Type: ActPause, Reason: "inconclusive analysis: no data"}},
		{"the post-rollout analysis runs after the gates passed", rolling(v1alpha1.Progressing, repointed, healthy, passed(0, false), func(r *v1alpha1.SecretRotation) {
			r.Spec.Analysis = &v1alpha1.Analysis{Duration: &metav1.Duration{Duration: time.Minute}}
		}), with(cluster(v2, 2, true), gates), Action{Type: ActStartGate, Post: true}},
		{"an abort request rolls back", rolling(v1alpha1.Progressing, repointed, func(r *v1alpha1.SecretRotation) { r.Status.AbortRequested = true }), cluster(v2, 2, false),
			Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: "aborted: interrupted"}}},
		{"a rotation past its deadline fails", rolling(v1alpha1.Progressing, repointed, func(r *v1alpha1.SecretRotation) { r.Status.Deadline = at(-time.Second) }), cluster(v2, 2, false), Action{Type: ActFail}},
		{"spec.paused pauses at the next step", rolling(v1alpha1.Progressing, func(r *v1alpha1.SecretRotation) { r.Spec.Paused = true }), cluster(v1, 2, true), Action{Type: ActPause, Reason: "paused (spec.paused)"}},
		{"a final rotation has nothing to do", rolling(v1alpha1.Succeeded), cluster(v2, 2, true), Action{Type: ActNone}},

		{"blue-green records blue's size and creates green first", bluegreen(), cluster(v1, 4, true), Action{Type: ActCreateGreen, Consumers: []int{0}}},
		{"blue-green scales green to its share and blue to the rest", bluegreen(withGreen), cluster(v1, 4, true, 0), Action{Type: ActScale, Green: []int{0}}},
		{"a blue-green rerun after a kill mid-scale scales again (green half, blue not yet)", bluegreen(withGreen), cluster(v1, 4, true, 2), Action{Type: ActScale, Green: []int{0}}},
		{"a step whose green is not yet healthy waits", bluegreen(withGreen, func(r *v1alpha1.SecretRotation) { r.Status.StepStarted = at(0) }), cluster(v1, 2, false, 2), Action{Type: ActWait}},
		{"a green whose pods crash fails the step", bluegreen(withGreen, func(r *v1alpha1.SecretRotation) { r.Status.StepStarted = at(0) }),
			with(cluster(v1, 2, true, 2), func(o *Observation) { o.Green[0].Problem = "CrashLoopBackOff" }), Action{Type: ActFail, Failure: &v1alpha1.Failure{Object: "Deployment/web-rotor-green", Reason: "CrashLoopBackOff"}}},
		{"a healthy step is recorded so its pause can be timed", bluegreen(withGreen, func(r *v1alpha1.SecretRotation) { r.Status.StepStarted = at(0) }), cluster(v1, 2, true, 2), Action{Type: ActMark, Mark: MarkStepHealthy}},
		{"the pause waits for what is left of it", bluegreen(withGreen, func(r *v1alpha1.SecretRotation) {
			r.Status.StepStarted, r.Status.StepHealthy = at(-20*time.Second), at(-20*time.Second)
		}),
			cluster(v1, 2, true, 2), Action{Type: ActWait, RequeueAfter: 40 * time.Second}},
		{"after the pause a step without gates advances", bluegreen(withGreen, func(r *v1alpha1.SecretRotation) {
			r.Status.StepStarted, r.Status.StepHealthy = at(-2*time.Minute), at(-2*time.Minute)
		}),
			cluster(v1, 2, true, 2), Action{Type: ActAdvance}},
		{"a green deleted by someone mid-rotation is created again", bluegreen(withGreen), cluster(v1, 4, true, -1), Action{Type: ActCreateGreen, Consumers: []int{0}, Green: []int{0}}},
		{"the last step returns blue to full size on the new version", bluegreen(withGreen, func(r *v1alpha1.SecretRotation) { r.Status.Step = 1 }), cluster(v1, 2, true, 2), Action{Type: ActRepoint, Step: 1, Consumers: []int{0}}},
		{"a rerun killed after blue was re-pointed but not resized resizes it", bluegreen(withGreen, func(r *v1alpha1.SecretRotation) { r.Status.Step = 1 }), cluster(v2, 2, true, 2), Action{Type: ActRepoint, Step: 1, Consumers: []int{0}}},
		{"a finished blue-green deletes green before it succeeds", bluegreen(withGreen, repointed, healthy, func(r *v1alpha1.SecretRotation) { r.Status.Step = 1 }), cluster(v2, 4, true, 2), Action{Type: ActDeleteGreen, Step: 1, Green: []int{0}}},
		{"green being deleted is waited for", bluegreen(withGreen, repointed, healthy, func(r *v1alpha1.SecretRotation) { r.Status.Step = 1 }),
			with(cluster(v2, 4, true, 2), func(o *Observation) { o.Green[0].Deleting = true }), Action{Type: ActWait}},
		{"blue on the new version at full size with green gone succeeds", bluegreen(withGreen, repointed, healthy, func(r *v1alpha1.SecretRotation) { r.Status.Step = 1 }), cluster(v2, 4, true, -1), Action{Type: ActFinish, Phase: v1alpha1.Succeeded}},

		{"a rollback returns a re-pointed consumer to where it came from", rolling(v1alpha1.RollingBack), cluster(v2, 2, false), Action{Type: ActRestore, Consumers: []int{0}}},
		{"a rollback leaves a consumer someone else already put back, and ends RolledBack", rolling(v1alpha1.RollingBack), cluster(v1, 2, true), Action{Type: ActFinish, Phase: v1alpha1.RolledBack}},
		{"a rollback leaves a consumer someone moved to a third version alone", rolling(v1alpha1.RollingBack), cluster("app-20250301000000", 2, true), Action{Type: ActFinish, Phase: v1alpha1.RolledBack}},
		{"a rollback skips a consumer that was deleted", rolling(v1alpha1.RollingBack), with(cluster(v2, 2, true), func(o *Observation) { o.Consumers[0].Gone = true }), Action{Type: ActFinish, Phase: v1alpha1.RolledBack}},
		{"a rollback cannot return a consumer to a version that was deleted, and says so", rolling(v1alpha1.RollingBack),
			with(cluster(v2, 2, true), func(o *Observation) { o.Missing[v1] = true }), Action{Type: ActFinish, Phase: v1alpha1.Failed, Reason: "could not roll back: Deployment/web stays on " + v2 + ": " + v1 + " no longer exists"}},
		{"a blue-green rollback returns blue to its recorded size", bluegreen(withGreen, func(r *v1alpha1.SecretRotation) { r.Status.Phase = v1alpha1.RollingBack }), cluster(v1, 2, true, 2), Action{Type: ActRestore, Consumers: []int{0}}},
		{"a blue-green rollback deletes green once blue is back", bluegreen(withGreen, func(r *v1alpha1.SecretRotation) { r.Status.Phase = v1alpha1.RollingBack }), cluster(v1, 4, true, 2), Action{Type: ActDeleteGreen, Green: []int{0}}},
		{"an aborted rotation ends Aborted once everything is back", rolling(v1alpha1.RollingBack, func(r *v1alpha1.SecretRotation) { r.Status.AbortRequested = true }), cluster(v1, 2, true), Action{Type: ActFinish, Phase: v1alpha1.Aborted}},
		{"a rollback past its deadline ends Failed saying where each consumer is", rolling(v1alpha1.RollingBack, func(r *v1alpha1.SecretRotation) { r.Status.Deadline = at(-time.Second) }), cluster(v2, 2, true),
			Action{Type: ActFinish, Phase: v1alpha1.Failed, Reason: "the rollback's deadline passed: Deployment/web names " + v2 + " (came from " + v1 + ")"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.rot, tt.obs)
			if tt.want.Type == ActWait || tt.want.Type == ActFail && tt.want.Failure == nil || tt.want.Type == ActStart {
				// Only the kind (and a pause's remaining time) matters here.
				got.Reason, got.Failure = "", nil
				if tt.want.RequeueAfter == 0 {
					got.RequeueAfter = 0
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decide =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}
}

func TestNewRollbackReadsTheJournalNotTheAnnotations(t *testing.T) {
	of := rolling(v1alpha1.Succeeded, func(r *v1alpha1.SecretRotation) {
		r.Status.Consumers = append(r.Status.Consumers,
			v1alpha1.ConsumerStatus{Kind: "CronJob", Name: "report", From: "app-20241201000000", To: v2},
			v1alpha1.ConsumerStatus{Kind: "Job", Name: "once", To: v2, Skip: true},
			v1alpha1.ConsumerStatus{Kind: "Deployment", Name: "already", From: v2, To: v2})
	})
	rb := NewRollback(of, "alice", clk.Now())
	if rb.Spec.Action != v1alpha1.ActionRollback || rb.Spec.Reverts != "r" || len(rb.Status.Consumers) != 2 {
		t.Fatalf("%+v", rb)
	}
	if c := rb.Status.Consumers[1]; c.Name != "report" || c.To != "app-20241201000000" || c.From != v2 {
		t.Fatalf("the CronJob goes back to %q, want the version the journal says it had", c.To)
	}
	if rb.Status.TargetVersion != "" {
		t.Fatalf("consumers going back to different versions have no one target: %q", rb.Status.TargetVersion)
	}
}

package rotation

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/gate"
)

// Checklist milestones the engine records.
const (
	CheckCreated   = "created"
	CheckStarted   = "started"
	CheckRepointed = "all consumers re-pointed"
	CheckHealthy   = "all pods on the new version"
	CheckFinished  = "finished"
)

// checklistStep names a blue-green step's milestone.
func checklistStep(step, weight int32) string {
	return fmt.Sprintf("step %d (%d%%) passed", step+1, weight)
}

func now(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

// check adds a checklist entry once.
func check(st *v1alpha1.RotationStatus, name string, t time.Time) {
	for _, e := range st.Checklist {
		if e.Name == name {
			return
		}
	}
	st.Checklist = append(st.Checklist, v1alpha1.ChecklistEntry{Name: name, At: metav1.NewTime(t)})
}

// applyStatus changes the status for an action that writes nothing to the cluster.
func applyStatus(rot *v1alpha1.SecretRotation, a Action, o Observation) {
	st := &rot.Status
	t := o.Now
	switch a.Type {
	case ActStart:
		st.Phase = v1alpha1.Progressing
		if st.Started == nil {
			st.Started = now(t)
		}
		st.Deadline = now(t.Add(timeout(rot)))
		check(st, CheckStarted, t)
	case ActMark:
		switch a.Mark {
		case MarkRepointed:
			st.Repointed = now(t)
			if st.StepStarted == nil {
				st.StepStarted = now(t)
			}
			check(st, CheckRepointed, t)
		case MarkStepHealthy:
			st.StepHealthy = now(t)
		case MarkHealthy:
			st.Healthy = now(t)
			check(st, CheckHealthy, t)
		}
	case ActStartGate:
		st.Gates = append(st.Gates, v1alpha1.GateResult{Step: a.Step, Post: a.Post, Gate: "analysis", Phase: gateRunning, Started: now(t)})
		if a.Post {
			st.Phase = v1alpha1.Analysing
		}
	case ActRecordGate:
		if rec := gateRecord(rot, a.Step, a.Post); rec != nil {
			recordVerdict(rec, *a.Verdict, t)
		}
		if st.Phase == v1alpha1.Analysing && a.Verdict.Phase == gate.Successful {
			st.Phase = v1alpha1.Progressing
		}
	case ActAdvance:
		check(st, checklistStep(a.Step, st.Steps[a.Step]), t)
		st.Step++
		st.StepStarted, st.StepHealthy = nil, nil
	case ActPause:
		st.Phase = v1alpha1.Paused
		st.Message = a.Reason
		if rec := gateRecord(rot, a.Step, a.Post); rec != nil && rec.Phase == string(gate.Inconclusive) {
			d := *rec
			st.PendingDecision = &d
		}
	case ActResume:
		st.Phase, st.Message = v1alpha1.Progressing, ""
	case ActFail:
		st.Failure = a.Failure
		st.Message = failureText(a.Failure)
		if rot.Spec.NoRollback || rot.Spec.Action == v1alpha1.ActionRollback || st.Repointed == nil && len(st.Green) == 0 && !a.Moved && nothingMoved(rot, o) {
			st.Phase = v1alpha1.Failed
			st.Finished = now(t)
			switch {
			case rot.Spec.NoRollback:
				st.Message += " (left as it is: no rollback)"
			case st.AbortRequested:
				st.Phase = v1alpha1.Aborted
			}
			check(st, CheckFinished, t)
			break
		}
		st.Phase = v1alpha1.RollingBack
		st.Deadline = now(t.Add(timeout(rot)))
	case ActFinish:
		st.Phase = a.Phase
		st.Finished = now(t)
		switch {
		case a.Reason != "":
			st.Message = strings.TrimSpace(st.Message + "; " + a.Reason)
			st.Message = strings.TrimPrefix(st.Message, "; ")
		case a.Phase == v1alpha1.Succeeded:
			st.Message = successText(rot)
		}
		check(st, CheckFinished, t)
	}
	st.Intent = nil
}

// nothingMoved reports that no consumer names its target yet and no green copy
// exists: a failure now needs no rollback.
func nothingMoved(rot *v1alpha1.SecretRotation, o Observation) bool {
	for i, c := range rot.Status.Consumers {
		if c.Skip || i >= len(o.Consumers) {
			continue
		}
		for _, v := range o.Consumers[i].Versions {
			if v == c.To && c.To != c.From {
				return false
			}
		}
	}
	return true
}

func failureText(f *v1alpha1.Failure) string {
	if f == nil {
		return ""
	}
	if f.Object == "" {
		return f.Reason
	}
	return f.Object + ": " + f.Reason
}

func successText(rot *v1alpha1.SecretRotation) string {
	n := 0
	for _, c := range rot.Status.Consumers {
		if !c.Skip {
			n++
		}
	}
	target := rot.Status.TargetVersion
	if target == "" {
		target = "their previous versions"
	}
	if rot.Spec.Strategy.Type == v1alpha1.BlueGreen {
		return fmt.Sprintf("%d Deployment(s) on %s (bluegreen %v)", n, target, rot.Status.Steps)
	}
	if rot.Spec.Action == v1alpha1.ActionRollback {
		return fmt.Sprintf("%d consumer(s) rolled back", n)
	}
	return fmt.Sprintf("%d consumer(s) on %s", n, target)
}

// recordVerdict writes a gate's verdict into its record.
func recordVerdict(rec *v1alpha1.GateResult, v gate.Verdict, t time.Time) {
	rec.Phase, rec.Message, rec.Finished = string(v.Phase), v.Message, now(t)
	rec.Measurements = nil
	for _, m := range v.Measurements {
		ms := v1alpha1.MeasurementSummary{Name: m.Name, Value: m.Value, Phase: string(m.Phase), Detail: m.Detail}
		if !m.At.IsZero() {
			ms.At = now(m.At)
		}
		rec.Measurements = append(rec.Measurements, ms)
	}
	// Keep the journal small: the last ten values say enough.
	if n := len(rec.Measurements); n > 10 {
		rec.Measurements = rec.Measurements[n-10:]
	}
}

// Condition types, in kstatus form.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// setConditions derives the kstatus conditions from the phase.
func setConditions(rot *v1alpha1.SecretRotation, t time.Time) {
	st := &rot.Status
	gen := rot.Generation
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(t)})
	}
	phase := string(st.Phase)
	if phase == "" {
		phase = string(v1alpha1.Pending)
	}
	switch st.Phase {
	case v1alpha1.Succeeded:
		set(ConditionReady, metav1.ConditionTrue, phase, st.Message)
		meta.RemoveStatusCondition(&st.Conditions, ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, ConditionStalled)
	case v1alpha1.Failed, v1alpha1.RolledBack, v1alpha1.Aborted:
		set(ConditionReady, metav1.ConditionFalse, phase, st.Message)
		set(ConditionStalled, metav1.ConditionTrue, phase, st.Message)
		meta.RemoveStatusCondition(&st.Conditions, ConditionReconciling)
	default:
		set(ConditionReady, metav1.ConditionFalse, phase, st.Message)
		set(ConditionReconciling, metav1.ConditionTrue, phase, st.Message)
		meta.RemoveStatusCondition(&st.Conditions, ConditionStalled)
	}
	st.ObservedGeneration = gen
}

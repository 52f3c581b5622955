package rotation

import (
	"strings"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

// record copies what was observed into the status, so the journal says where each
// consumer stood when it was last saved.
func record(rot *v1alpha1.SecretRotation, o Observation) {
	recordApplied(rot, o)
	for i := range rot.Status.Consumers {
		if i >= len(o.Consumers) || rot.Status.Consumers[i].Skip {
			continue
		}
		c, oc := &rot.Status.Consumers[i], o.Consumers[i]
		switch {
		case oc.Gone:
			c.Observed, c.State = "", "gone"
		default:
			if len(oc.Versions) > 0 {
				c.Observed = oc.Versions[0]
			}
			if oc.Health.Message != "" {
				c.State = oc.Health.Message
			}
		}
	}
}

// report emits a line whenever a workload's rollout state changes.
func (e *Engine) report(rot *v1alpha1.SecretRotation, o Observation) {
	if e.Progress == nil {
		return
	}
	e.mu.Lock()
	if e.states == nil {
		e.states = map[string]string{}
	}
	var lines [][2]string
	seen := func(key, object, msg string) {
		if msg == "" || e.states[key] == msg {
			return
		}
		e.states[key] = msg
		lines = append(lines, [2]string{object, msg})
	}
	prefix := rot.Namespace + "/" + rot.Name + "/"
	for i, c := range rot.Status.Consumers {
		if c.Skip || i >= len(o.Consumers) || !c.Rolls {
			continue
		}
		if o.Consumers[i].At(c.To) {
			seen(prefix+c.Kind+"/"+c.Name, c.Kind+"/"+c.Name, o.Consumers[i].Health.Message)
		}
	}
	for j, g := range rot.Status.Green {
		if j < len(o.Green) && o.Green[j].Exists && !o.Green[j].Deleting {
			seen(prefix+"green/"+g.Name, "Deployment/"+g.Name, o.Green[j].Health.Message)
		}
	}
	e.mu.Unlock()
	for _, l := range lines {
		e.emit(rot, l[0], "%s", l[1])
	}
}

// before emits what a status-only action is about to record.
func (e *Engine) before(rot *v1alpha1.SecretRotation, a Action, o Observation) {
	st := &rot.Status
	switch a.Type {
	case ActStart:
		if st.Driver == nil {
			d := e.Driver
			d.Since = now(o.Now)
			st.Driver = &d
		}
		check(st, CheckCreated, o.Now)
	case ActMark:
		switch a.Mark {
		case MarkHealthy:
			for _, i := range active(rot, o) {
				if c := st.Consumers[i]; c.Rolls {
					e.emit(rot, c.Kind+"/"+c.Name, "healthy on %s", c.To)
				}
			}
			if st.Started != nil && rot.Spec.Strategy.Type != v1alpha1.BlueGreen {
				e.emit(rot, "", "all consumers healthy on %s after %s", targetText(rot), o.Now.Sub(st.Started.Time).Round(timeRound))
			}
		case MarkStepHealthy:
			if p := pauseOf(rot); p > 0 {
				e.emit(rot, "", "step %d (%d%%) healthy; pausing %s", a.Step+1, st.Steps[a.Step], p)
			}
		}
	case ActRecordGate:
		e.emit(rot, "", "%s", verdictText(a.Verdict))
	case ActAdvance:
		e.emit(rot, "", "step %d of %d passed: %d%% on %s", a.Step+1, len(st.Steps), st.Steps[a.Step], targetText(rot))
	case ActFail:
		e.emit(rot, "", "FAILED: %s", failureText(a.Failure))
		e.gates.cancel(rot)
	case ActPause:
		e.emit(rot, "", "paused: %s", a.Reason)
	case ActResume:
		if a.Window {
			e.emit(rot, "", "the maintenance window is open: going on")
		}
	case ActFinish:
		e.gates.cancel(rot)
	}
}

// after emits what a saved action means for the run.
func (e *Engine) after(rot *v1alpha1.SecretRotation, a Action) {
	st := &rot.Status
	switch {
	case a.Type == ActFail && st.Phase == v1alpha1.RollingBack:
		e.emit(rot, "", "rolling back: every consumer goes back to where it came from")
	case a.Type == ActFinish && rot.Spec.Strategy.Type == v1alpha1.BlueGreen && a.Phase == v1alpha1.Succeeded:
		e.emit(rot, "", "step %d of %d passed: 100%% on %s", len(st.Steps), len(st.Steps), targetText(rot))
	case a.Type == ActMark && a.Mark == MarkHealthy && rot.Spec.Strategy.Type != v1alpha1.BlueGreen:
		if g := gateRecord(rot, 0, false); g != nil && g.Phase == gateRunning {
			e.emit(rot, "", "waiting for the gates' verdict")
		}
	}
}

const timeRound = 10_000_000 // 10 ms

// emitChange reports a change made in git, and that the engine now waits for the
// cluster to show it.
func (e *Engine) emitChange(rot *v1alpha1.SecretRotation, c *v1alpha1.SourceChange) {
	what := "committed"
	if c.Reused {
		what = "the manifests already hold it: commit"
	}
	pushed := ""
	if c.Pushed {
		pushed = ", pushed"
	}
	e.emit(rot, "", "%s %s (%s%s); waiting for the GitOps engine to apply it", what, shortHash(c.Commit), strings.Join(c.Objects, ", "), pushed)
}

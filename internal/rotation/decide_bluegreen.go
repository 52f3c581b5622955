package rotation

import (
	"fmt"
	"strings"
	"time"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/rollout"
)

// decideBlueGreen advances a blue-green rotation: green copies first (blue's size
// recorded before anything is scaled), then per step below 100 % the shares, health, the
// pause and the gates; at 100 % blue itself at full size on the new version, its health
// and gates, the post-rollout analysis, and green deleted.
func decideBlueGreen(rot *v1alpha1.SecretRotation, o Observation) Action {
	st := &rot.Status
	act := active(rot, o)
	if missing := missingTargets(rot, o); len(missing) > 0 {
		return Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: fmt.Sprintf("%s no longer exist(s) in namespace %q", strings.Join(missing, ", "), rot.Namespace)}}
	}
	if len(st.Green) < len(act) {
		return Action{Type: ActCreateGreen, Consumers: act}
	}
	var recreate []int
	for j := range st.Green {
		if !o.Green[j].Exists {
			recreate = append(recreate, j)
		}
	}
	step := st.Step
	if int(step) >= len(st.Steps) {
		return finishForward(rot, o, step)
	}
	w := st.Steps[step]
	if w < 100 {
		if len(recreate) > 0 {
			return Action{Type: ActCreateGreen, Consumers: act, Green: recreate}
		}
		var scale []int
		for j, g := range st.Green {
			share := rollout.GreenShare(g.Replicas, int(w))
			blue := blueIndex(rot, g.Of)
			if o.Green[j].Replicas != share || (blue >= 0 && o.Consumers[blue].Replicas != g.Replicas-share) {
				scale = append(scale, j)
			}
		}
		if len(scale) > 0 || st.StepStarted == nil {
			return Action{Type: ActScale, Step: step, Green: scale}
		}
		for j, g := range st.Green {
			if o.Green[j].Problem != "" || o.Green[j].Health.Failed {
				reason := o.Green[j].Problem
				if reason == "" {
					reason = o.Green[j].Health.Message
				}
				return Action{Type: ActFail, Failure: &v1alpha1.Failure{Object: "Deployment/" + g.Name, Reason: reason}}
			}
			if !o.Green[j].Health.Done {
				return Action{Type: ActWait, Reason: "green copies becoming healthy"}
			}
		}
		if st.StepHealthy == nil {
			return Action{Type: ActMark, Mark: MarkStepHealthy, Step: step}
		}
		if pause := pauseOf(rot); pause > 0 {
			if left := st.StepHealthy.Add(pause).Sub(o.Now); left > 0 {
				return Action{Type: ActWait, RequeueAfter: left, Reason: "the step's pause"}
			}
		}
		if a, gating := gateAction(rot, o, step, false); gating {
			return Action{Type: ActWait, Reason: "the gates' verdict"}
		} else if a.Type != ActNone {
			return a
		}
		return atBoundary(rot, o, Action{Type: ActAdvance, Step: step})
	}
	// The last step: blue itself, at full size, on the new version.
	var repoint []int
	for _, i := range act {
		g := greenOf(rot, st.Consumers[i].Name)
		if !o.Consumers[i].At(st.Consumers[i].To) || (g != nil && o.Consumers[i].Replicas != g.Replicas) {
			repoint = append(repoint, i)
		}
	}
	if len(repoint) > 0 {
		return Action{Type: ActRepoint, Step: step, Consumers: repoint}
	}
	if st.Repointed == nil {
		return Action{Type: ActMark, Mark: MarkRepointed, Step: step}
	}
	if f := consumerFailure(rot, o, act); f != nil {
		return Action{Type: ActFail, Failure: f}
	}
	if !consumersHealthy(rot, o, act) {
		return Action{Type: ActWait, Reason: "blue rolling out on the new version"}
	}
	if st.Healthy == nil {
		return Action{Type: ActMark, Mark: MarkHealthy, Step: step}
	}
	if a, gating := gateAction(rot, o, step, false); gating {
		return Action{Type: ActWait, Reason: "the gates' verdict"}
	} else if a.Type != ActNone {
		return a
	}
	return finishForward(rot, o, step)
}

func pauseOf(rot *v1alpha1.SecretRotation) time.Duration {
	if p := rot.Spec.Strategy.Pause; p != nil {
		return p.Duration
	}
	return 0
}

func blueIndex(rot *v1alpha1.SecretRotation, name string) int {
	for i, c := range rot.Status.Consumers {
		if c.Kind == "Deployment" && c.Name == name && !c.Skip {
			return i
		}
	}
	return -1
}

func greenOf(rot *v1alpha1.SecretRotation, blue string) *v1alpha1.GreenStatus {
	for j := range rot.Status.Green {
		if rot.Status.Green[j].Of == blue {
			return &rot.Status.Green[j]
		}
	}
	return nil
}

// decideRollback returns every consumer the rotation moved to where it was: those the
// cluster shows on their target go back to where they came from (if that version still
// exists), blue goes back to its recorded size, green copies are deleted. Consumers
// someone else moved elsewhere meanwhile are left alone. Past the deadline it ends
// Failed, saying where each consumer stands.
func decideRollback(rot *v1alpha1.SecretRotation, o Observation) Action {
	st := &rot.Status
	if st.Deadline != nil && !o.Now.Before(st.Deadline.Time) {
		return Action{Type: ActFinish, Phase: v1alpha1.Failed, Reason: "the rollback's deadline passed: " + Whereabouts(rot, o)}
	}
	if throughSource(rot) {
		// The re-point is in git: revert it there, whatever the cluster shows yet.
		if a, ok := decideSourceRollback(rot, o); ok {
			return a
		}
	}
	var restore []int
	for _, i := range active(rot, o) {
		if throughSource(rot) {
			break
		}
		c, oc := st.Consumers[i], o.Consumers[i]
		moved := c.From != "" && c.From != c.To && oc.At(c.To) && !o.Missing[c.From]
		g := greenOf(rot, c.Name)
		shrunk := g != nil && c.Kind == "Deployment" && oc.Replicas != g.Replicas
		if moved || shrunk {
			restore = append(restore, i)
		}
	}
	if len(restore) > 0 {
		return Action{Type: ActRestore, Consumers: restore}
	}
	var greens []int
	deleting := false
	for j := range st.Green {
		if j < len(o.Green) && o.Green[j].Exists {
			if o.Green[j].Deleting {
				deleting = true
			} else {
				greens = append(greens, j)
			}
		}
	}
	if len(greens) > 0 {
		return Action{Type: ActDeleteGreen, Green: greens}
	}
	if deleting {
		return Action{Type: ActWait, Reason: "green copies being deleted"}
	}
	phase := v1alpha1.RolledBack
	if st.AbortRequested {
		phase = v1alpha1.Aborted
	}
	if left := notRestored(rot, o); left != "" {
		return Action{Type: ActFinish, Phase: v1alpha1.Failed, Reason: "could not roll back: " + left}
	}
	return Action{Type: ActFinish, Phase: phase}
}

// notRestored names consumers still on the rotation's target whose previous version is
// gone.
func notRestored(rot *v1alpha1.SecretRotation, o Observation) string {
	var parts []string
	for _, i := range active(rot, o) {
		c, oc := rot.Status.Consumers[i], o.Consumers[i]
		if c.From != "" && c.From != c.To && oc.At(c.To) && o.Missing[c.From] {
			parts = append(parts, fmt.Sprintf("%s/%s stays on %s: %s no longer exists", c.Kind, c.Name, c.To, c.From))
		}
	}
	return strings.Join(parts, "; ")
}

// Whereabouts says which version each consumer names now.
func Whereabouts(rot *v1alpha1.SecretRotation, o Observation) string {
	var parts []string
	for i, c := range rot.Status.Consumers {
		if c.Skip || i >= len(o.Consumers) {
			continue
		}
		oc := o.Consumers[i]
		switch {
		case oc.Gone:
			parts = append(parts, fmt.Sprintf("%s/%s is gone", c.Kind, c.Name))
		default:
			parts = append(parts, fmt.Sprintf("%s/%s names %s (came from %s)", c.Kind, c.Name, strings.Join(oc.Versions, "+"), orNone(c.From)))
		}
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

package rotation

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/health"
)

// ActionType is the kind of the next action.
type ActionType string

// Actions. Those marked (write) change the cluster and are preceded by an Intent in the
// journal; the others only change the rotation's status (or nothing).
const (
	// ActPlan finds the consumers and their changes (reads only).
	ActPlan ActionType = "Plan"
	// ActStart moves a planned rotation to Progressing.
	ActStart ActionType = "Start"
	// ActCreateGreen creates the green copies of a blue-green rotation (write).
	ActCreateGreen ActionType = "CreateGreen"
	// ActScale sets green and blue to a step's shares (write).
	ActScale ActionType = "Scale"
	// ActRepoint re-points consumers to their target (write). In a blue-green
	// rotation's last step it first returns blue to its full size.
	ActRepoint ActionType = "Repoint"
	// ActMark records a milestone seen in the cluster (Mark says which).
	ActMark ActionType = "Mark"
	// ActStartGate starts the gates of a step (or the post-rollout analysis).
	ActStartGate ActionType = "StartGate"
	// ActRecordGate records a finished gate's verdict.
	ActRecordGate ActionType = "RecordGate"
	// ActAdvance moves on to the next blue-green step.
	ActAdvance ActionType = "Advance"
	// ActPause stops at a step boundary (spec.paused, or an inconclusive verdict that
	// waits for a person); ActResume goes on.
	ActPause  ActionType = "Pause"
	ActResume ActionType = "Resume"
	// ActFail records a failure: the rotation rolls back, or (no rollback) ends Failed.
	ActFail ActionType = "Fail"
	// ActRestore returns consumers to where they were, and blue to its size (write).
	ActRestore ActionType = "Restore"
	// ActDeleteGreen deletes the green copies (write).
	ActDeleteGreen ActionType = "DeleteGreen"
	// ActFinish ends the rotation in Phase.
	ActFinish ActionType = "Finish"
	// ActWait waits for the cluster (or a gate, or a pause) to move.
	ActWait ActionType = "Wait"
	// ActNone: the rotation is final.
	ActNone ActionType = "None"
)

// Milestones recorded by ActMark.
const (
	MarkRepointed   = "repointed"
	MarkStepHealthy = "stepHealthy"
	MarkHealthy     = "healthy"
)

// Action is what Decide chose.
type Action struct {
	Type ActionType
	Step int32
	// Consumers and Green index status.consumers and status.green.
	Consumers []int
	Green     []int
	// Post marks the gates after the last step.
	Post bool
	// Mark is the milestone of ActMark.
	Mark string
	// Phase is the phase ActFinish ends in.
	Phase v1alpha1.Phase
	// Failure is what ActFail records.
	Failure *v1alpha1.Failure
	// Verdict is what ActRecordGate records.
	Verdict *gate.Verdict
	// RequeueAfter is how long an ActWait may wait at most (0: until the cluster
	// changes).
	RequeueAfter time.Duration
	// Reason says why, in words (what an ActWait waits for, why a rotation finishes).
	Reason string
	// Moved marks an ActFail after a write that may have changed some consumers: it
	// always rolls back (unless the rotation says not to).
	Moved bool
	// Window marks a wait, pause or resume for the maintenance window (spec.window);
	// Opens is when the next window opens (ActPause).
	Window bool
	Opens  time.Time
}

// Writes reports whether the action changes the cluster.
func (a Action) Writes() bool {
	switch a.Type {
	case ActCreateGreen, ActScale, ActRepoint, ActRestore, ActDeleteGreen:
		return true
	}
	return false
}

// Observation is what the engine read before deciding: the cluster as it is now.
type Observation struct {
	Now time.Time
	// Consumers and Green parallel status.consumers and status.green.
	Consumers []ObservedConsumer
	Green     []ObservedGreen
	// Missing are versions named by the rotation (targets, and restore targets) that do
	// not exist in the namespace.
	Missing map[string]bool
	// Gate is the gate job of the current step (or of the post-rollout analysis) in
	// this process, if one runs or ran.
	Gate *GateState
	// HasGates says whether the rotation has step gates (an analysis).
	HasGates bool
	// HasPostGates says whether it has gates after the last step: an analysis that
	// keeps evaluating (spec.analysis.duration), a verification Job (spec.verify).
	HasPostGates bool
	// Window is the maintenance window now (spec.window).
	Window WindowState
}

// ObservedConsumer is one consumer as the cluster shows it.
type ObservedConsumer struct {
	// Gone: deleted, or replaced by another object of the same name.
	Gone bool
	// Versions are the versions of the family it names, distinct, in order.
	Versions []string
	// Replicas is a Deployment's spec.replicas.
	Replicas int32
	// Health is its rollout state; Problem a failing pod of its target version.
	Health  health.State
	Problem string
	// object is the consumer as read: a re-point decided from this observation
	// patches it without reading it again.
	object *unstructured.Unstructured
}

// object is consumer i as the observation read it, or nil (not read, or gone).
func (o Observation) object(i int) *unstructured.Unstructured {
	if i < len(o.Consumers) {
		return o.Consumers[i].object
	}
	return nil
}

// At reports whether the consumer names v and only v.
func (o ObservedConsumer) At(v string) bool { return len(o.Versions) == 1 && o.Versions[0] == v }

// ObservedGreen is one green copy.
type ObservedGreen struct {
	Exists, Deleting bool
	Replicas         int32
	Health           health.State
	Problem          string
}

// GateState is a gate job as this process knows it.
type GateState struct {
	Step    int32
	Post    bool
	Done    bool
	Verdict gate.Verdict
}

// Gate phases recorded in status.gates besides gate.Phase's.
const gateRunning = "Running"

// Decide chooses the next action for a rotation from its status and the cluster. It is
// pure: same input, same action.
func Decide(rot *v1alpha1.SecretRotation, o Observation) Action {
	st := &rot.Status
	switch {
	case st.Phase.Final():
		return Action{Type: ActNone}
	case !st.Planned:
		return Action{Type: ActPlan}
	case st.Phase == "" || st.Phase == v1alpha1.Pending:
		if throughSource(rot) && rot.Spec.Strategy.Type == v1alpha1.BlueGreen {
			return Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: ErrBlueGreenThroughGit.Error() + "; nothing was changed"}}
		}
		if missing := missingTargets(rot, o); len(missing) > 0 {
			return Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: fmt.Sprintf("%s no longer exist(s) in namespace %q; nothing was changed", strings.Join(missing, ", "), rot.Namespace)}}
		}
		if a, stop := atStart(rot, o); stop {
			return a
		}
		return Action{Type: ActStart}
	case st.Phase == v1alpha1.RollingBack:
		return decideRollback(rot, o)
	}
	if st.AbortRequested {
		return Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: "aborted: interrupted"}}
	}
	if st.WindowOpens != nil {
		// Waiting for the window is no progress the deadline measures: it starts again
		// when the window opens.
		return windowWait(o)
	}
	if st.Deadline != nil && !o.Now.Before(st.Deadline.Time) {
		return Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: fmt.Sprintf("the rotation's deadline passed (%s after it started)", timeout(rot))}}
	}
	switch {
	case rot.Spec.Paused && st.Phase != v1alpha1.Paused:
		return Action{Type: ActPause, Reason: "paused (spec.paused)"}
	case st.Phase == v1alpha1.Paused && st.PendingDecision != nil:
		return Action{Type: ActWait, Reason: "an inconclusive analysis waits for a decision"}
	case st.Phase == v1alpha1.Paused && rot.Spec.Paused:
		return Action{Type: ActWait, Reason: "paused (spec.paused)"}
	case st.Phase == v1alpha1.Paused:
		return Action{Type: ActResume}
	}
	if rot.Spec.Strategy.Type == v1alpha1.BlueGreen {
		return decideBlueGreen(rot, o)
	}
	return decideRolling(rot, o)
}

// timeout is the rotation's deadline length.
func timeout(rot *v1alpha1.SecretRotation) time.Duration {
	if t := rot.Spec.Timeout; t != nil && t.Duration > 0 {
		return t.Duration
	}
	return DefaultTimeout
}

// DefaultTimeout is the deadline of a rotation without spec.timeout.
const DefaultTimeout = 30 * time.Minute

// active are the consumers that move (not skipped, not gone).
func active(rot *v1alpha1.SecretRotation, o Observation) []int {
	var out []int
	for i, c := range rot.Status.Consumers {
		if c.Skip || (i < len(o.Consumers) && o.Consumers[i].Gone) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// missingRestore are the versions active consumers come from (where a rollback would
// return them) that do not exist: moving a consumer forward then would leave no way back.
func missingRestore(rot *v1alpha1.SecretRotation, o Observation, idx []int) []string {
	seen := map[string]bool{}
	var out []string
	for _, i := range idx {
		c := rot.Status.Consumers[i]
		if c.From != "" && c.From != c.To && o.Missing[c.From] && !seen[c.From] {
			seen[c.From] = true
			out = append(out, c.From)
		}
	}
	return out
}

// missingTargets are the targets of active consumers that do not exist.
func missingTargets(rot *v1alpha1.SecretRotation, o Observation) []string {
	seen := map[string]bool{}
	var out []string
	for _, i := range active(rot, o) {
		to := rot.Status.Consumers[i].To
		if o.Missing[to] && !seen[to] {
			seen[to] = true
			out = append(out, to)
		}
	}
	return out
}

func decideRolling(rot *v1alpha1.SecretRotation, o Observation) Action {
	st := &rot.Status
	act := active(rot, o)
	var pending []int
	for _, i := range act {
		if !o.Consumers[i].At(st.Consumers[i].To) {
			pending = append(pending, i)
		}
	}
	if len(pending) > 0 {
		if missing := missingTargets(rot, o); len(missing) > 0 {
			return Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: fmt.Sprintf("%s no longer exist(s) in namespace %q, so nothing more is re-pointed to it", strings.Join(missing, ", "), rot.Namespace)}}
		}
		if missing := missingRestore(rot, o, pending); len(missing) > 0 && rot.Spec.Action != v1alpha1.ActionRollback {
			return Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: fmt.Sprintf("%s, where a rollback would return consumers, no longer exist(s) in namespace %q, so nothing more is re-pointed", strings.Join(missing, ", "), rot.Namespace)}}
		}
		if w, ok := awaitApply(rot, ActRepoint); ok {
			return w
		}
		return Action{Type: ActRepoint, Consumers: pending}
	}
	if st.Repointed == nil {
		return Action{Type: ActMark, Mark: MarkRepointed}
	}
	if f := consumerFailure(rot, o, act); f != nil {
		return Action{Type: ActFail, Failure: f}
	}
	// The gate runs while the consumers roll out: a failing metric wins over waiting.
	g, gating := gateAction(rot, o, 0, false)
	if !gating && g.Type != ActNone {
		return g
	}
	if !consumersHealthy(rot, o, act) {
		return Action{Type: ActWait, Reason: "consumers rolling out"}
	}
	if st.Healthy == nil {
		return Action{Type: ActMark, Mark: MarkHealthy}
	}
	if gating {
		return Action{Type: ActWait, Reason: "the gates' verdict"}
	}
	return finishForward(rot, o, 0)
}

// finishForward runs the post-rollout analysis, deletes leftovers, and succeeds.
func finishForward(rot *v1alpha1.SecretRotation, o Observation, step int32) Action {
	if o.HasPostGates {
		a, wait := gateAction(rot, o, step, true)
		if wait {
			return Action{Type: ActWait, Reason: "the post-rollout analysis"}
		}
		if a.Type != ActNone {
			return a
		}
	}
	var greens []int
	deleting := false
	for j := range rot.Status.Green {
		if j < len(o.Green) && o.Green[j].Exists {
			if o.Green[j].Deleting {
				deleting = true
			} else {
				greens = append(greens, j)
			}
		}
	}
	if len(greens) > 0 {
		return Action{Type: ActDeleteGreen, Green: greens, Step: step}
	}
	if deleting {
		return Action{Type: ActWait, Reason: "green copies being deleted"}
	}
	return Action{Type: ActFinish, Phase: v1alpha1.Succeeded}
}

// consumerFailure is the first failing consumer among idx.
func consumerFailure(rot *v1alpha1.SecretRotation, o Observation, idx []int) *v1alpha1.Failure {
	for _, i := range idx {
		c, oc := rot.Status.Consumers[i], o.Consumers[i]
		if !c.Rolls {
			continue
		}
		if oc.Problem != "" {
			return &v1alpha1.Failure{Object: c.Kind + "/" + c.Name, Reason: oc.Problem}
		}
		if oc.Health.Failed {
			return &v1alpha1.Failure{Object: c.Kind + "/" + c.Name, Reason: oc.Health.Message}
		}
	}
	return nil
}

func consumersHealthy(rot *v1alpha1.SecretRotation, o Observation, idx []int) bool {
	for _, i := range idx {
		if rot.Status.Consumers[i].Rolls && !o.Consumers[i].Health.Done {
			return false
		}
	}
	return true
}

// gateAction decides about the gates of a step. It returns (action, false) when there
// is something to do (start, record, fail, pause) or ActNone when the gates passed (or
// there are none); (_, true) while a gate runs.
func gateAction(rot *v1alpha1.SecretRotation, o Observation, step int32, post bool) (Action, bool) {
	has := o.HasGates
	if post {
		has = o.HasPostGates
	}
	if !has {
		return Action{Type: ActNone}, false
	}
	rec := gateRecord(rot, step, post)
	switch {
	case rec == nil:
		return Action{Type: ActStartGate, Step: step, Post: post}, false
	case rec.Phase == gateRunning:
		g := o.Gate
		if g == nil || g.Step != step || g.Post != post {
			// Started by a run that is gone: start it again here.
			return Action{Type: ActStartGate, Step: step, Post: post}, false
		}
		if !g.Done {
			return Action{}, true
		}
		v := g.Verdict
		return Action{Type: ActRecordGate, Step: step, Post: post, Verdict: &v}, false
	case rec.Phase == string(gate.Successful):
		return Action{Type: ActNone}, false
	case rec.Phase == string(gate.Inconclusive) && rot.Spec.Analysis != nil && rot.Spec.Analysis.Inconclusive == v1alpha1.InconclusivePause:
		return Action{Type: ActPause, Step: step, Post: post, Reason: "inconclusive analysis: " + rec.Message}, false
	}
	return Action{Type: ActFail, Failure: &v1alpha1.Failure{Object: "gate " + rec.Gate, Reason: rec.Phase + ": " + rec.Message}}, false
}

// gateRecord is the latest recorded gate result of a step.
func gateRecord(rot *v1alpha1.SecretRotation, step int32, post bool) *v1alpha1.GateResult {
	for i := len(rot.Status.Gates) - 1; i >= 0; i-- {
		g := &rot.Status.Gates[i]
		if g.Step == step && g.Post == post {
			return g
		}
	}
	return nil
}

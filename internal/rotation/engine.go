// Package rotation advances a rotation (an api/v1alpha1 SecretRotation) one step at a
// time. Decide is pure: from the rotation's status and the cluster as observed it picks
// the next action (re-point, create or scale green copies, start a gate, record a
// milestone, roll back, finish, or wait). Engine.Step reads the cluster, decides, and —
// for an action that writes to the cluster — first saves the status saying what it is
// about to do (the Intent; the save is conditional on the resourceVersion it read: the
// fence), then does it, then saves what it did. It returns when to look again; it never
// blocks for a whole rotation. A run killed at any point leaves a journal from which
// the next Step continues: every action is idempotent and decided from what the cluster
// shows, not from what a dead process believed.
//
// Drivers call Step: Driver (here) loops for the CLI, waiting by watch between steps;
// a controller calls it from its reconciler. The engine never prints: it reports
// progress through Engine.Progress.
package rotation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/apiretry"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
)

// Planner finds the consumers of a rotation and their changes (rollout.Planner).
type Planner interface {
	Plan(ctx context.Context, req rollout.Request) (*rollout.Plan, error)
}

// Event is a progress report.
type Event struct {
	Time time.Time
	// Rotation is the rotation's name; Namespace its namespace.
	Rotation, Namespace string
	// Object is "Deployment/web", or "" for the rotation as a whole.
	Object  string
	Message string
}

// Engine advances rotations.
type Engine struct {
	Client    kubernetes.Interface
	Metadata  metadata.Interface
	Repointer *repoint.Repointer
	// GitOps moves the consumers of rotations through git (spec.gitops): it commits
	// the re-points and reverts that the live engine would patch. nil: such rotations
	// stop with a *GitOpsUnavailableError.
	GitOps  Mover
	Planner Planner
	Store   Store
	// Gates builds the gates of a rotation (nil: no gates besides health).
	Gates GateFactory
	Clock clock.Clock
	// Retry retries transient API failures within the rotation's deadline.
	Retry apiretry.Policy
	// Driver identifies the process advancing rotations, for the journal.
	Driver v1alpha1.Driver
	// Progress receives events; may be nil.
	Progress func(Event)

	gates  gateRunner
	mu     sync.Mutex
	states map[string]string // last state message per rotation/consumer
}

// Result says when to step again.
type Result struct {
	// Rotation is the rotation as stored after the step.
	Rotation *v1alpha1.SecretRotation
	// Done: the rotation is final.
	Done bool
	// Action is what the step did (or waits for).
	Action Action
	// RequeueAfter bounds the wait before the next step (0 with Wait unset: step again
	// at once).
	RequeueAfter time.Duration
	// Wait: nothing to do until the cluster changes, a gate finishes (Wake), or
	// RequeueAfter passes.
	Wait bool
	// Wake is closed when a gate of this engine finishes.
	Wake <-chan struct{}
	// Decision is set when the rotation waits for a person (an inconclusive verdict).
	Decision *v1alpha1.GateResult
}

func (e *Engine) emit(rot *v1alpha1.SecretRotation, object, format string, a ...any) {
	if e.Progress != nil {
		e.Progress(Event{Time: e.Clock.Now(), Rotation: rot.Name, Namespace: rot.Namespace, Object: object, Message: fmt.Sprintf(format, a...)})
	}
}

// save writes the rotation's status, conditional on its resourceVersion.
func (e *Engine) save(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	setConditions(rot, e.Clock.Now())
	saved, err := e.Store.Update(ctx, rot)
	if err != nil {
		return nil, err
	}
	return saved, nil
}

// Step advances rot by one action. A *ConflictError means another driver wrote the
// rotation since it was read: stop driving it.
//
// Actions that only change the journal (start, a milestone, a verdict, a failure that
// rolls back) are folded into the step with the action that follows them, decided from
// the same observation: a rotation's first re-point is written with its start, and a
// rollback's restore with the failure that asks for it, in one save of the journal
// instead of a save and a second look at the cluster each. The action the step returns
// is the last one.
func (e *Engine) Step(ctx context.Context, rot *v1alpha1.SecretRotation) (Result, error) {
	if rot.Status.Phase.Final() {
		e.gates.cancel(rot)
		return Result{Rotation: rot, Done: true, Action: Action{Type: ActNone}}, nil
	}
	obs, err := e.observe(ctx, rot)
	if err != nil {
		return Result{Rotation: rot}, err
	}
	a := Decide(rot, obs)
	e.report(rot, obs)
	next := rot.DeepCopy()
	record(next, obs)
	if a.Type == ActPlan {
		seen, err := e.planSeen(ctx, next)
		if err != nil {
			return Result{Rotation: rot}, err
		}
		if next.Status.Phase.Final() || next.Spec.Strategy.Type == v1alpha1.BlueGreen {
			// Nothing can start (the plan's problems end the rotation), or a driver
			// may choose the strategy from the plan (the controller runs a blue-green
			// rotation that moves nothing as a rolling one): the plan is saved alone.
			saved, err := e.save(ctx, next)
			if err != nil {
				return Result{Rotation: rot, Action: a}, err
			}
			return Result{Rotation: saved, Action: a, Done: saved.Status.Phase.Final()}, nil
		}
		// The plan is saved with what follows it, decided from a look at the consumers
		// it found: as it read them, with the versions read beside it.
		if obs, err = e.observeSeen(ctx, next, seen); err != nil {
			return Result{Rotation: rot}, err
		}
		a = Decide(next, obs)
		e.report(next, obs)
		record(next, obs)
	}
	var folded []Action
	for len(folded) < maxFolded && folds(a) {
		e.before(next, a, obs)
		applyStatus(next, a, obs)
		folded = append(folded, a)
		a = Decide(next, obs)
	}
	switch {
	case a.Type == ActNone, a.Type == ActWait:
		if next.Status.Planned == rot.Status.Planned && len(folded) == 0 {
			// Nothing to record: waiting writes nothing.
			return e.waitResult(rot, a), nil
		}
		saved, err := e.saveFolded(ctx, next, folded)
		if err != nil {
			return Result{Rotation: rot, Action: a}, err
		}
		if a.Type == ActNone || saved.Status.Phase.Final() {
			return Result{Rotation: saved, Done: true, Action: last(folded, a)}, nil
		}
		return e.waitResult(saved, a), nil
	case a.Type == ActStartGate:
		if err := e.startGate(next, a, obs); err != nil {
			a = Action{Type: ActFail, Failure: &v1alpha1.Failure{Object: "gate analysis", Reason: "cannot start: " + err.Error()}}
		}
	case !a.Writes():
	default:
		return e.write(ctx, next, a, obs, folded)
	}
	e.before(next, a, obs)
	applyStatus(next, a, obs)
	saved, err := e.saveFolded(ctx, next, append(folded, a))
	if err != nil {
		return Result{Rotation: rot, Action: a}, err
	}
	return Result{Rotation: saved, Action: a, Done: saved.Status.Phase.Final()}, nil
}

// maxFolded bounds the journal-only actions one step folds together.
const maxFolded = 4

// folds reports whether a only changes the journal and the action after it may be
// decided from the same observation: not a gate's start (the next decision needs the
// gate this process runs), a pause or the end (nothing follows them in this step).
func folds(a Action) bool {
	switch a.Type {
	case ActStart, ActMark, ActAdvance, ActResume, ActRecordGate, ActFail:
		return true
	}
	return false
}

// last is the action a step reports: a, or the last folded action when the rotation
// ended with it (nothing followed).
func last(folded []Action, a Action) Action {
	if a.Type == ActNone && len(folded) > 0 {
		return folded[len(folded)-1]
	}
	return a
}

// waitResult is the result of a step that waits.
func (e *Engine) waitResult(rot *v1alpha1.SecretRotation, a Action) Result {
	if a.Type == ActNone {
		return Result{Rotation: rot, Done: true, Action: a}
	}
	res := Result{Rotation: rot, Action: a, Wait: true, RequeueAfter: a.RequeueAfter, Wake: e.gates.wakeup()}
	if rot.Status.Phase == v1alpha1.Paused {
		res.Decision = rot.Status.PendingDecision
	}
	return res
}

// saveFolded saves the journal with the actions folded into it, and reports them.
func (e *Engine) saveFolded(ctx context.Context, rot *v1alpha1.SecretRotation, actions []Action) (*v1alpha1.SecretRotation, error) {
	saved, err := e.save(ctx, rot)
	if err != nil {
		return nil, err
	}
	for _, a := range actions {
		e.after(saved, a)
	}
	return saved, nil
}

// write takes an action that changes the cluster: intent, deed, record.
// The actions folded into the step are saved with the intent.
func (e *Engine) write(ctx context.Context, rot *v1alpha1.SecretRotation, a Action, obs Observation, folded []Action) (Result, error) {
	if a.Type == ActRepoint || a.Type == ActRestore {
		// A rotation through git that this engine cannot commit for stops here, with
		// nothing written: the journal stays as it is for a driver that can.
		if _, err := e.mover(rot); err != nil {
			return Result{Rotation: rot, Action: a}, err
		}
	}
	prepare(rot, a, obs)
	rot.Status.Intent = intent(rot, a, obs.Now)
	saved, err := e.saveFolded(ctx, rot, folded)
	if err != nil {
		return Result{Rotation: rot, Action: a}, err
	}
	// The step's budget is what the rotation's deadline leaves by the engine's clock;
	// a context's deadline is on the machine's clock, so hand it the duration.
	dctx, cancel := context.WithTimeout(ctx, deadlineOf(saved, obs.Now).Sub(obs.Now))
	defer cancel()
	change, doErr := e.do(dctx, saved, a, obs)
	if ctx.Err() != nil {
		// Stopped from outside (the lock was lost, or a second interrupt): the journal
		// keeps the intent, so the next run knows where this one stopped.
		return Result{Rotation: saved, Action: a}, errors.Join(doErr, context.Cause(ctx))
	}
	next := saved.DeepCopy()
	next.Status.Intent = nil
	t := e.Clock.Now()
	var res Result
	switch {
	case doErr == nil:
		complete(next, a, t, change)
		if change != nil {
			e.emitChange(next, change)
		}
	case a.Type == ActRestore || a.Type == ActDeleteGreen:
		// Retried at the next step, until the deadline.
		next.Status.Message = fmt.Sprintf("rolling back (%s): %v; retrying", failureText(next.Status.Failure), doErr)
		res.Wait, res.RequeueAfter = true, time.Second
	default:
		fail := Action{Type: ActFail, Failure: &v1alpha1.Failure{Reason: doErr.Error()}, Moved: true}
		e.emit(next, "", "FAILED: %s", doErr)
		applyStatus(next, fail, Observation{Now: t, Consumers: obs.Consumers, Missing: obs.Missing})
		e.gates.cancel(next)
	}
	saved, err = e.save(ctx, next)
	if err != nil {
		return Result{Rotation: next, Action: a}, err
	}
	res.Rotation, res.Action, res.Done = saved, a, saved.Status.Phase.Final()
	if res.Wait {
		res.Wake = e.gates.wakeup()
	}
	return res, nil
}

// deadlineOf bounds an action: the rotation's deadline, or a minute from now when that
// passed (an action the rotation must still take, such as a restore).
func deadlineOf(rot *v1alpha1.SecretRotation, t time.Time) time.Time {
	if d := rot.Status.Deadline; d != nil && d.After(t) {
		return d.Time
	}
	return t.Add(time.Minute)
}

// planSeen plans rot and returns what the plan read for the look that follows it: the
// consumers, and the family's versions in the namespace, listed beside the plan. A
// blue-green plan is saved alone (Step): no look follows it, nothing is returned.
func (e *Engine) planSeen(ctx context.Context, rot *v1alpha1.SecretRotation) (seen, error) {
	if rot.Spec.Strategy.Type == v1alpha1.BlueGreen {
		_, err := e.plan(ctx, rot)
		return seen{}, err
	}
	var versions map[string]bool
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		versions = e.familyVersions(lctx, rot.Namespace, rot.Spec.Family)
	}()
	p, err := e.plan(ctx, rot)
	if p == nil {
		cancel() // no look follows: the list is not waited for
	}
	<-done
	return seenIn(p, versions), err
}

// plan finds the consumers of a rotation created without them (by a controller), in
// rot: Pending with its plan, or Failed with the plan's problems. It returns the plan
// (nil when there is none).
func (e *Engine) plan(ctx context.Context, rot *v1alpha1.SecretRotation) (*rollout.Plan, error) {
	req, err := RequestOf(rot)
	if err != nil {
		return nil, err
	}
	req.KeepObjects = true // for the look that follows
	p, err := e.Planner.Plan(ctx, req)
	if err == nil && rot.Spec.Strategy.Type == v1alpha1.BlueGreen {
		err = blueGreenFits(ctx, e.Client, p)
	}
	var pe *rollout.PlanError
	switch {
	case errors.As(err, &pe):
		rot.Status.Planned, rot.Status.Phase, rot.Status.Message, rot.Status.Finished = true, v1alpha1.Failed, pe.Error(), now(e.Clock.Now())
		return nil, nil
	case err != nil:
		return nil, err
	}
	SetPlan(rot, p)
	rot.Status.Phase = v1alpha1.Pending
	return p, nil
}

// blueGreenFits refuses a blue-green plan that moves consumers other than
// Deployments (only a Deployment has a green copy) or Deployments an autoscaler
// scales (it would undo each step's replicas).
func blueGreenFits(ctx context.Context, client kubernetes.Interface, p *rollout.Plan) error {
	var problems []string
	for _, c := range rollout.NotDeployments(p.Active()) {
		problems = append(problems, fmt.Sprintf("%s: a blue-green rotation runs a green copy of Deployments only; rotate it with the rolling strategy", c))
	}
	if len(problems) > 0 {
		return &rollout.PlanError{Problems: problems}
	}
	return rollout.AutoscaledDeployments(ctx, client, p.Active())
}

// Abort asks the engine to roll the rotation back at its next step (it then ends
// Aborted). A final rotation is returned as it is.
func (e *Engine) Abort(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	if rot.Status.Phase.Final() || rot.Status.AbortRequested {
		return rot, nil
	}
	next := rot.DeepCopy()
	next.Status.AbortRequested = true
	return e.save(ctx, next)
}

// Decide answers a rotation paused on an inconclusive verdict: go on (the verdict
// counts as successful) or not (it counts as a failure).
func (e *Engine) Decide(ctx context.Context, rot *v1alpha1.SecretRotation, proceed bool, by string) (*v1alpha1.SecretRotation, error) {
	d := rot.Status.PendingDecision
	if d == nil {
		return rot, nil
	}
	next := rot.DeepCopy()
	next.Status.PendingDecision = nil
	next.Status.Phase = v1alpha1.Progressing
	if rec := gateRecord(next, d.Step, d.Post); rec != nil {
		if proceed {
			rec.Phase = "Successful"
			rec.Message = "inconclusive (" + d.Message + "); continued by " + by
		} else {
			rec.Phase = "Failed"
			rec.Message = "inconclusive (" + d.Message + "); not continued by " + by
		}
	}
	return e.save(ctx, next)
}

// Claim records this engine's driver on the rotation (when it starts or resumes one).
func (e *Engine) Claim(ctx context.Context, rot *v1alpha1.SecretRotation) (*v1alpha1.SecretRotation, error) {
	next := rot.DeepCopy()
	d := e.Driver
	d.Since = now(e.Clock.Now())
	next.Status.Driver = &d
	return e.save(ctx, next)
}

// Forget drops what the engine keeps in memory about a rotation (running gates, last
// states); drivers call it when they stop driving it.
func (e *Engine) Forget(rot *v1alpha1.SecretRotation) {
	e.gates.cancel(rot)
	e.mu.Lock()
	defer e.mu.Unlock()
	prefix := rot.Namespace + "/" + rot.Name + "/"
	for k := range e.states {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(e.states, k)
		}
	}
}

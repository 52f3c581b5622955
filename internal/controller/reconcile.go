package controller

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/refindex"
	"github.com/rotor-project/rotor/internal/rotation"
)

// maxSteps bounds the steps one reconcile takes before yielding to other rotations.
const maxSteps = 64

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// Reconciler drives SecretRotations with the engine.
type Reconciler struct {
	client client.Client
	// fresh reads SecretRotations from the API server when the cache may not have
	// seen this process's last save (read).
	fresh       client.Reader
	saved       lastSaved
	engine      *rotation.Engine
	store       rotation.Store
	index       *refindex.Index
	events      *eventAdapter
	metrics     *metricSet
	clock       clock.Clock
	identity    string
	resync      time.Duration
	concurrency int

	queue   atomic.Pointer[queue]
	stop    atomic.Pointer[context.Context]
	waiting sync.Map // types.NamespacedName → waiting for a gate
	looked  sync.Map // types.NamespacedName → when its last reconcile began
	woken   sync.Map // types.NamespacedName → when a new version woke it, until it runs
	begun   sync.Map // types.NamespacedName → when this process began its rotation
	tracked tracker
}

// setup registers the reconciler with the manager: SecretRotations (spec changes,
// annotations, creation and deletion — never the status it writes itself), and the
// index's changes, which wake the rotations they concern.
func (r *Reconciler) setup(mgr manager.Manager) error {
	r.index.Subscribe(r.onChange)
	return ctrl.NewControllerManagedBy(mgr).
		Named("secretrotation").
		For(&v1alpha1.SecretRotation{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesRawSource(source.Func(func(ctx context.Context, q queue) error {
			r.queue.Store(&q)
			r.stop.Store(&ctx)
			return nil
		})).
		WithOptions(crcontroller.Options{MaxConcurrentReconciles: r.concurrency}).
		Complete(r)
}

// Reconcile advances one SecretRotation as far as it can go now.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	r.looked.Store(req.NamespacedName, r.clock.Now())
	if t, ok := r.woken.LoadAndDelete(req.NamespacedName); ok {
		logr.FromContextOrDiscard(ctx).V(1).Info("woken by a new version", "rotation", req.NamespacedName, "queued", r.clock.Since(t.(time.Time)))
	}
	rot, err := r.read(ctx, req.NamespacedName)
	if err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	rot.APIVersion, rot.Kind = v1alpha1.APIVersion, v1alpha1.Kind
	if rot.DeletionTimestamp != nil {
		r.forget(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	owner, err := r.ownerOf(ctx, rot)
	if err != nil {
		return reconcile.Result{}, err
	}
	if owner != rot.Name {
		r.tracked.set(rot, false)
		return reconcile.Result{}, r.stall(ctx, rot, "FamilyOwned",
			"SecretRotation "+owner+" already drives family "+rot.Spec.Family+" in this namespace; delete this one, or that one")
	}
	r.events.remember(rot)
	r.tracked.set(rot, !rot.Status.Phase.Final())
	return r.drive(ctx, rot)
}

// drive decides whether the rotation in the status continues, is superseded, or a new
// one starts, then steps it.
func (r *Reconciler) drive(ctx context.Context, rot *v1alpha1.SecretRotation) (reconcile.Result, error) {
	target, err := r.target(ctx, rot)
	if err != nil {
		return reconcile.Result{}, err
	}
	st := &rot.Status
	switch {
	case !st.Planned && st.Phase == "":
		rot = r.begin(rot, target)
	case !st.Phase.Final():
		if next, done, err := r.decision(ctx, rot); err != nil || done {
			return reconcile.Result{}, err
		} else if next != nil {
			rot = next
		}
		if superseded(rot, target) {
			r.events.rotation(rot, warning, "Superseded", "spec.target now resolves to %s: the rotation to %s rolls back first", target, st.TargetVersion)
			next, err := r.engine.Abort(ctx, r.effective(rot, target))
			if err != nil {
				return r.stepError(ctx, rot, err)
			}
			rot = typed(next)
		}
	default:
		if !needNew(rot, target) {
			return reconcile.Result{}, r.settle(ctx, rot)
		}
		rot = r.begin(rot, target)
	}
	return r.step(ctx, rot, target)
}

// begin is rot with a new, unplanned rotation to target in its status. The previous
// rotation's conditions stay, so their transition times mean something.
func (r *Reconciler) begin(rot *v1alpha1.SecretRotation, target string) *v1alpha1.SecretRotation {
	next := rot.DeepCopy()
	next.Status = v1alpha1.RotationStatus{
		Conditions:         rot.Status.Conditions,
		ObservedGeneration: rot.Status.ObservedGeneration,
		TargetVersion:      target,
		By:                 "SecretRotation/" + rot.Name,
	}
	to := target
	if to == "" {
		to = rot.Spec.Target
	}
	r.events.rotation(next, normal, "RotationStarted", "rotating family %s to %s", rot.Spec.Family, to)
	r.begun.Store(client.ObjectKeyFromObject(rot), r.clock.Now())
	return next
}

// step calls the engine until the rotation waits or ends.
func (r *Reconciler) step(ctx context.Context, rot *v1alpha1.SecretRotation, target string) (reconcile.Result, error) {
	key := client.ObjectKeyFromObject(rot)
	st := &rot.Status
	if st.Planned && !st.Phase.Final() && (st.Driver == nil || st.Driver.Identity != r.identity) {
		claimed, err := r.engine.Claim(ctx, r.effective(rot, target))
		if err != nil {
			return r.stepError(ctx, rot, err)
		}
		if st.Driver != nil {
			r.events.rotation(claimed, normal, "Resumed", "continuing from the journal (it was driven by %s)", st.Driver.Identity)
		}
		rot = typed(claimed)
	}
	log := logr.FromContextOrDiscard(ctx)
	for range maxSteps {
		began := r.clock.Now()
		res, err := r.engine.Step(ctx, r.effective(rot, target))
		log.V(1).Info("step", "rotation", key, "action", res.Action.Type, "took", r.clock.Since(began), "err", err)
		if err != nil {
			return r.stepError(ctx, rot, err)
		}
		prev := rot
		rot = typed(res.Rotation)
		r.transition(prev, rot)
		r.events.remember(rot)
		r.tracked.set(rot, !rot.Status.Phase.Final())
		switch {
		case res.Done:
			r.engine.Forget(rot)
			return reconcile.Result{}, nil
		case res.Decision != nil:
			r.events.rotation(rot, warning, "DecisionNeeded", "an inconclusive analysis waits for a decision: annotate the SecretRotation %s=%s or %s", AnnotationDecision, DecisionContinue, DecisionRollback)
			return reconcile.Result{}, nil
		case res.Wait:
			r.wakeOn(key, res.Wake)
			after := res.RequeueAfter
			if after <= 0 || after > r.resync {
				after = r.resync
			}
			return reconcile.Result{RequeueAfter: after, Priority: ptr.To(priorityLook)}, nil
		}
	}
	return reconcile.Result{RequeueAfter: time.Millisecond}, nil
}

// stepError handles a failed step: a lost race means another driver (a replica that
// still believes it leads, or a CLI run) wrote the journal: read it again.
func (r *Reconciler) stepError(ctx context.Context, rot *v1alpha1.SecretRotation, err error) (reconcile.Result, error) {
	if rotation.IsConflict(err) {
		logr.FromContextOrDiscard(ctx).V(1).Info("the journal changed under this step; reading it again", "rotation", client.ObjectKeyFromObject(rot))
		return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	r.events.rotation(rot, warning, "StepError", "%v", err)
	return reconcile.Result{}, err
}

// effective is rot as the engine sees it: spec.target resolved (the journal's target
// once planned), spec.watch as the analysis after the last step.
func (r *Reconciler) effective(rot *v1alpha1.SecretRotation, target string) *v1alpha1.SecretRotation {
	e := rot.DeepCopy()
	switch {
	case e.Status.Planned && e.Status.TargetVersion != "":
		e.Spec.Target = e.Status.TargetVersion
	case target != "":
		e.Spec.Target = target
	}
	if e.Spec.Action == "" {
		e.Spec.Action = v1alpha1.ActionRollout
	}
	if e.Spec.Strategy.Type == "" || nothingMoves(e) {
		// A rotation whose consumers all name the target already (the first one of a
		// new SecretRotation, typically) has nothing to shift: no green copies, no
		// pauses.
		e.Spec.Strategy.Type = v1alpha1.Rolling
	}
	if a := e.Spec.Analysis; a != nil && e.Spec.Watch != nil && (a.Duration == nil || a.Duration.Duration <= 0) {
		w := *e.Spec.Watch
		a.Duration = &w
	}
	return e
}

// nothingMoves reports whether a planned rotation's consumers all named their target
// when it was planned.
func nothingMoves(rot *v1alpha1.SecretRotation) bool {
	st := &rot.Status
	if !st.Planned || len(st.Green) > 0 {
		return false
	}
	for _, c := range st.Consumers {
		if !c.Skip && c.From != c.To {
			return false
		}
	}
	return true
}

// wakeOn reconciles key again when a gate of the engine finishes.
func (r *Reconciler) wakeOn(key types.NamespacedName, wake <-chan struct{}) {
	stop := r.stop.Load()
	if wake == nil || stop == nil {
		return
	}
	if _, loaded := r.waiting.LoadOrStore(key, true); loaded {
		return
	}
	go func() {
		defer r.waiting.Delete(key)
		select {
		case <-wake:
			r.add(key, 0, priorityGate)
		case <-(*stop).Done():
		}
	}()
}

func (r *Reconciler) forget(key types.NamespacedName) {
	r.tracked.remove(key)
	r.events.forget(key)
	r.metrics.phases.remove(key)
	r.begun.Delete(key)
	r.looked.Delete(key)
	r.woken.Delete(key)
	r.saved.forget(key)
	rot := &v1alpha1.SecretRotation{}
	rot.Namespace, rot.Name = key.Namespace, key.Name
	r.engine.Forget(rot)
}

func typed(rot *v1alpha1.SecretRotation) *v1alpha1.SecretRotation {
	rot.APIVersion, rot.Kind = v1alpha1.APIVersion, v1alpha1.Kind
	return rot
}

// tracker remembers which SecretRotations exist per namespace and family, and which
// have a rotation in progress, for onChange.
type tracker struct {
	mu sync.Mutex
	m  map[[2]string]map[string]bool
}

func (t *tracker) set(rot *v1alpha1.SecretRotation, active bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[[2]string]map[string]bool{}
	}
	k := [2]string{rot.Namespace, rot.Spec.Family}
	if t.m[k] == nil {
		t.m[k] = map[string]bool{}
	}
	t.m[k][rot.Name] = active
}

func (t *tracker) get(ns, fam string) map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]bool{}
	for n, a := range t.m[[2]string{ns, fam}] {
		out[n] = a
	}
	return out
}

func (t *tracker) remove(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, names := range t.m {
		if k[0] == key.Namespace {
			delete(names, key.Name)
		}
	}
}

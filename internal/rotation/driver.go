package rotation

import (
	"context"
	"errors"
	"time"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

// Changes tells a driver that something in a namespace may have moved (a workload, a
// pod): it returns a channel that receives after a change, and a stop function.
type Changes func(ctx context.Context, namespace string) (<-chan struct{}, func(), error)

// Driver runs rotations to the end in one process: it calls Engine.Step, and between
// steps waits for the cluster to change (by watch), for a gate to finish, or for the
// time Step asked for. It never prints: the engine's Progress does.
type Driver struct {
	Engine  *Engine
	Changes Changes
	// Decide answers an inconclusive verdict that waits for a person; nil leaves the
	// rotation paused and returns it.
	Decide func(ctx context.Context, rot *v1alpha1.SecretRotation) bool
	// By is who answers Decide, for the journal.
	By string
}

// fallbackWait bounds a wait for the cluster to change.
const fallbackWait = 5 * time.Second

// ErrPaused is returned by Run for a rotation left waiting (spec.paused, or a decision
// without Decide).
var ErrPaused = errors.New("the rotation is paused")

// Run drives rot until it is final. Closing abort (the first interrupt) asks for a
// rollback, and the rotation continues to Aborted. ctx ending (the lock lost, a second
// interrupt) stops at once: the journal says where.
func (d *Driver) Run(ctx context.Context, rot *v1alpha1.SecretRotation, abort <-chan struct{}) (*v1alpha1.SecretRotation, error) {
	e := d.Engine
	defer e.Forget(rot)
	changes, stop, err := d.Changes(ctx, rot.Namespace)
	if err != nil {
		return rot, err
	}
	defer stop()
	aborted := false
	for {
		if !aborted && isClosed(abort) {
			aborted = true
			next, err := e.Abort(ctx, rot)
			if err != nil {
				return rot, err
			}
			rot = next
		}
		res, err := e.Step(ctx, rot)
		if res.Rotation != nil {
			rot = res.Rotation
		}
		if err != nil {
			return rot, err
		}
		if res.Done {
			return rot, nil
		}
		if res.Decision != nil {
			if d.Decide == nil {
				return rot, ErrPaused
			}
			next, err := e.Decide(ctx, rot, d.Decide(ctx, rot), d.By)
			if err != nil {
				return rot, err
			}
			rot = next
			continue
		}
		if !res.Wait {
			continue
		}
		if rot.Status.Phase == v1alpha1.Paused && res.RequeueAfter == 0 {
			return rot, ErrPaused
		}
		// A watch event normally wakes the driver; the timer is the safety net for one
		// that was missed (a watch re-opened while the API server was away).
		wait := res.RequeueAfter
		if (wait <= 0 || wait > fallbackWait) && (!res.Action.Window || wait <= 0) {
			// Waiting for a maintenance window is waiting for the clock alone: no
			// change in the cluster brings it sooner.
			wait = fallbackWait
		}
		timer := e.Clock.After(wait)
		select {
		case <-ctx.Done():
			return rot, context.Cause(ctx)
		case <-changes:
		case <-res.Wake:
		case <-timer:
		case <-abortCh(abort, aborted):
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// abortCh is abort until it has been acted on.
func abortCh(abort <-chan struct{}, done bool) <-chan struct{} {
	if done {
		return nil
	}
	return abort
}

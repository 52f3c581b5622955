package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/record"
	"github.com/rotor-project/rotor/internal/repoint"
)

// Rolling re-points every consumer at once and lets each roll out by its own update
// strategy; then waits for health and runs the gates (during the rollout and for
// Options.After beyond it). On failure every consumer this run re-pointed goes back to
// its previous version, unless NoRollback. The error wraps ErrFailed when the rotation
// failed; Outcome says what happened either way.
func (r *Runner) Rolling(ctx context.Context, p *Plan, o Options) (*Outcome, error) {
	recs, release, err := r.begin(ctx, p, record.Rollout, "rolling")
	if err != nil {
		return nil, err
	}
	defer release()
	out := &Outcome{Records: recs}
	start := r.Clock.Now()
	active := p.Active()
	r.emit("", "re-pointing %d consumer(s) to %s", len(active), p.Items[0].To)
	done, err := r.repointAll(ctx, p.Family, active, repoint.Options{Annotate: true})
	out.Repointed = done
	out.RepointedIn = r.Clock.Since(start)
	if err != nil {
		out.Failure = &Failure{Reason: err.Error()}
		return r.fail(ctx, p, recs, out, o)
	}
	// Wait on every rolling consumer, also the ones already on the version: a rerun
	// after a crash must still see them healthy.
	step := gate.Step{Family: p.Family, Version: p.Items[0].To, Weight: 100, Final: true, Started: r.Clock.Now()}
	for _, it := range p.Items {
		if !it.Skip {
			step.Namespace = it.Consumer.Namespace
			step.Workloads = append(step.Workloads, gate.Workload{Kind: it.Consumer.Kind, Namespace: it.Consumer.Namespace, Name: it.Consumer.Name})
		}
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gateResult := make(chan *Failure, 1)
	go func() { gateResult <- r.runGates(gctx, o.Gates, step, o) }()
	healthResult := make(chan *Failure, 1)
	go func() { healthResult <- r.waitHealthy(gctx, p.Items, o.timeout()) }()

	// A gate may fail while pods are still rolling out: whichever fails first wins.
	healthy, gated := false, len(o.Gates) == 0
	for !healthy || !gated {
		select {
		case f := <-healthResult:
			if f != nil {
				cancel()
				out.Failure = f
				return r.fail(ctx, p, recs, out, o)
			}
			healthy = true
			out.HealthyIn = r.Clock.Since(start)
			r.emit("", "all consumers healthy on %s after %s", p.Items[0].To, out.HealthyIn.Round(timeRound))
			if !gated {
				r.emit("", "waiting for the gates' verdict")
			}
		case f := <-gateResult:
			if f != nil {
				cancel()
				out.Failure = f
				return r.fail(ctx, p, recs, out, o)
			}
			gated = true
		}
	}
	if len(o.PostGates) > 0 {
		r.emit("", "rolled out; the post-rollout gates decide now")
		post := step
		post.Started = r.Clock.Now()
		if f := r.runGates(ctx, o.PostGates, post, o); f != nil {
			out.Failure = f
			return r.fail(ctx, p, recs, out, o)
		}
	}
	r.finish(ctx, recs, record.Succeeded, fmt.Sprintf("%d consumer(s) on %s", len(active), p.Items[0].To))
	return out, nil
}

const timeRound = 10 * time.Millisecond

// fail handles a failed step: roll back (unless told not to), record, and return an
// error that wraps ErrFailed.
func (r *Runner) fail(ctx context.Context, p *Plan, recs []*record.Record, out *Outcome, o Options) (*Outcome, error) {
	r.emit("", "FAILED: %s", out.Failure.Error())
	if o.NoRollback {
		r.finish(ctx, recs, record.Failed, out.Failure.Error()+" (left as it is: --no-rollback)")
		return out, fmt.Errorf("%w: %s; consumers were left on the new version (--no-rollback)", ErrFailed, out.Failure.Error())
	}
	r.restore(ctx, p.Family, out.Repointed, out)
	phase, msg := record.RolledBack, out.Failure.Error()
	if len(out.RollbackErrors) > 0 {
		phase = record.Failed
		msg += "; could not roll back: " + fmt.Sprint(out.RollbackErrors)
	}
	r.finish(ctx, recs, phase, msg)
	return out, fmt.Errorf("%w: %s", ErrFailed, out.Failure.Error())
}

// Converge finishes what an interrupted run left when every consumer already names its
// target: it takes the lock (marking a dead run's record as interrupted), returns any
// blue Deployment left scaled down to its full size, deletes leftover green copies, and
// waits for health. It writes no new record: nothing is re-pointed.
func (r *Runner) Converge(ctx context.Context, p *Plan, o Options) (*Outcome, error) {
	_, release, err := r.lockOnly(ctx, p)
	if err != nil {
		return nil, err
	}
	defer release()
	start := r.Clock.Now()
	out := &Outcome{}
	for _, it := range p.Items {
		if it.Consumer.Kind != "Deployment" || it.Skip {
			continue
		}
		if err := r.removeLeftoverGreen(ctx, it); err != nil {
			return out, err
		}
	}
	if f := r.waitHealthy(ctx, p.Items, o.timeout()); f != nil {
		out.Failure = f
		return out, fmt.Errorf("%w: %s", ErrFailed, f.Error())
	}
	out.HealthyIn = r.Clock.Since(start)
	return out, nil
}

// DryRun sends every patch of the plan with dryRun=All: the API server validates and
// admits them (RBAC, admission, schema) without storing anything. No lock, no record.
func (r *Runner) DryRun(ctx context.Context, p *Plan) error {
	_, err := r.repointAll(ctx, p.Family, p.Active(), repoint.Options{DryRun: true, Annotate: true})
	return err
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/analysis"
	"github.com/rotor-project/rotor/internal/engine"
	"github.com/rotor-project/rotor/internal/identity"
	"github.com/rotor-project/rotor/internal/kube"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/rotation"
)

// errRotationFailed marks a rotation that failed and was handled (rolled back unless
// told not to): exit status 1, the report says why.
var errRotationFailed = errors.New("rotation failed")

// runner drives rotations for rollout, rollback and watch: the engine, its progress
// lines on stderr, the family locks.
type runner struct {
	f        *factory
	eng      *engine.Engine
	progress io.Writer
	in       io.Reader
	start    time.Time
}

// newRunner assembles the engine for a command; analysis measurements are printed as
// they come.
func newRunner(ctx context.Context, f *factory, streams IOStreams, leaseDuration time.Duration, a *AnalysisFlags) (*runner, error) {
	clients, err := f.Clients()
	if err != nil {
		return nil, err
	}
	return newRunnerFor(ctx, f, clients, streams, leaseDuration, a)
}

// newRunnerFor is newRunner on the clients of one cluster (an environment's context).
func newRunnerFor(ctx context.Context, f *factory, clients *kube.Clients, streams IOStreams, leaseDuration time.Duration, a *AnalysisFlags) (*runner, error) {
	r := &runner{f: f, progress: streams.ErrOut, in: streams.In, start: f.Clock.Now()}
	who := identity.Who(ctx, clients.Typed, f.KubeconfigUser())
	host, _ := os.Hostname()
	var af AnalysisFlags
	if a != nil {
		af = *a
	}
	opts := engine.Options{
		Clock: f.Clock, By: who, Holder: fmt.Sprintf("%s on %s (pid %d)", who, host, os.Getpid()),
		DriverKind: "cli", LeaseDuration: leaseDuration,
		Progress: func(e rotation.Event) {
			obj := e.Object
			if obj == "" {
				obj = "rotation"
			}
			fmt.Fprintf(r.progress, "%s  %-32s %s\n", stamp(e.Time.Sub(r.start)), obj, e.Message)
		},
		Gates: engine.AnalysisGates(af.GateOptions(f, func(m analysis.Measurement) {
			fmt.Fprintf(r.progress, "analysis: %s #%d = %s (%s) %s\n", m.Metric, m.Index, m.Value, m.Phase, m.Message)
		})),
		OnRetry: func(err error, attempt int, wait time.Duration) {
			if attempt == 1 || attempt%5 == 0 {
				fmt.Fprintf(r.progress, "%s  %-32s the API server failed (%v); retrying in %s\n", stamp(f.Clock.Since(r.start)), "rotation", err, wait)
			}
		},
	}
	eng, err := engine.New(clients, opts)
	var de *lock.DurationError
	if errors.As(err, &de) {
		return nil, usageErrorf("--lease-duration %s: must be between %s and %s", de.Got, lock.MinDuration, lock.MaxDuration)
	}
	if err != nil {
		return nil, err
	}
	r.eng = eng
	eng.Driver.Decide = r.decide
	return r, nil
}

// decide answers an inconclusive analysis: on a terminal the user decides; without
// one it counts as a failure.
func (r *runner) decide(_ context.Context, rot *v1alpha1.SecretRotation) bool {
	d := rot.Status.PendingDecision
	msg := ""
	if d != nil {
		msg = d.Message
	}
	if !r.f.IsTerminal(r.in) {
		fmt.Fprintf(r.progress, "analysis inconclusive (%s): treated as a failure, since there is no terminal to ask\n", msg)
		return false
	}
	return confirm(r.in, r.progress, fmt.Sprintf("analysis inconclusive (%s). Continue the rotation? (no rolls back)", msg))
}

// locked holds the locks of a run.
type locked struct {
	ctx     context.Context
	release func()
}

// lockAll takes the family's lock in every namespace. The returned context (derived
// from one that ignores the first interrupt, which aborts instead) ends when any lock
// is lost.
func (r *runner) lockAll(ctx context.Context, fam string, namespaces []string) (*locked, error) {
	hard, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	var locks []*lock.Lock
	release := func() {
		for _, l := range locks {
			rctx, c := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_ = l.Release(rctx)
			c()
		}
		cancel(context.Canceled)
	}
	for _, ns := range namespaces {
		l, err := r.eng.Locker.Acquire(ctx, ns, fam)
		if err != nil {
			release()
			return nil, err
		}
		locks = append(locks, l)
		if l.TookOver {
			r.say("took over the lock of %s in %s from %s, which stopped renewing it (its run ended without releasing it)", fam, ns, l.PreviousHolder)
		}
		go func() {
			select {
			case <-l.Lost():
				cancel(l.Err())
			case <-hard.Done():
			}
		}()
	}
	return &locked{ctx: hard, release: release}, nil
}

func (r *runner) say(format string, a ...any) {
	fmt.Fprintf(r.progress, "%s  %-32s %s\n", stamp(r.f.Clock.Since(r.start)), "rotation", fmt.Sprintf(format, a...))
}

// unfinished are the rotations of fam in ns that no run finished, oldest first.
func (r *runner) unfinished(ctx context.Context, ns, fam string) ([]*v1alpha1.SecretRotation, error) {
	if ns == "" {
		// Resuming or rolling back is done under the lock of one namespace; an empty
		// one would reach into every namespace's journals without their locks.
		return nil, errors.New("internal error: looking for unfinished rotations needs a namespace")
	}
	all, err := r.eng.Journal.List(ctx, ns, fam)
	if err != nil {
		return nil, err
	}
	var out []*v1alpha1.SecretRotation
	for _, rot := range all {
		if !rot.Status.Phase.Final() {
			out = append(out, rot)
		}
	}
	return out, nil
}

// drive runs one rotation to its end. abort (the first interrupt) rolls it back.
func (r *runner) drive(ctx context.Context, rot *v1alpha1.SecretRotation, abort <-chan struct{}) (*v1alpha1.SecretRotation, error) {
	claimed, err := r.eng.Rotations.Claim(ctx, rot)
	if err != nil {
		return rot, err
	}
	final, err := r.eng.Driver.Run(ctx, claimed, abort)
	if err != nil {
		var lost *lock.LostError
		if errors.As(err, &lost) || errors.As(context.Cause(ctx), &lost) {
			return final, fmt.Errorf("%w; the journal (rotation %s in namespace %q) says where it stopped: run the same command again to resume it", lost, final.Name, final.Namespace)
		}
		if rotation.IsConflict(err) {
			return final, fmt.Errorf("%w", err)
		}
	}
	return final, err
}

// resume finishes an unfinished rotation found in the journal: it is continued as its
// journal says (its own strategy and gates), whatever this run's flags are.
func (r *runner) resume(ctx context.Context, rot *v1alpha1.SecretRotation, abort <-chan struct{}) (*v1alpha1.SecretRotation, error) {
	where := ""
	if in := rot.Status.Intent; in != nil {
		where = fmt.Sprintf("; it stopped while about to %s (%s)", strings.ToLower(in.Detail), strings.Join(in.Objects, ", "))
	}
	r.say("resuming rotation %s (%s of %s to %s, %s, started by %s)%s", rot.Name, strings.ToLower(string(rot.Spec.Action)), rot.Spec.Family,
		targetOrPrevious(rot), rot.Spec.Strategy.Type, orDash(rot.Status.By), where)
	if rot.Status.AbortRequested {
		// A rollback was asked for and journaled (a first interrupt, or a run that rolled
		// it back to go on with another version) before the run stopped: the rollback is
		// what is resumed.
		r.say("a rollback of it was asked for before its run stopped: rolling it back")
	}
	for _, g := range rot.Status.Green {
		r.say("reusing green copy %s left by an earlier run (blue size %d)", g.Name, g.Replicas)
	}
	return r.drive(ctx, rot, abort)
}

// rollBackUnfinished rolls back a rotation a dead run left, before another starts.
func (r *runner) rollBackUnfinished(ctx context.Context, rot *v1alpha1.SecretRotation, abort <-chan struct{}) (*v1alpha1.SecretRotation, error) {
	r.say("rotation %s (to %s) was interrupted; rolling back what it moved before going on", rot.Name, targetOrPrevious(rot))
	next, err := r.eng.Rotations.Abort(ctx, rot)
	if err != nil {
		return rot, err
	}
	return r.drive(ctx, next, abort)
}

func targetOrPrevious(rot *v1alpha1.SecretRotation) string {
	if rot.Status.TargetVersion != "" {
		return rot.Status.TargetVersion
	}
	if rot.Spec.Target != "" {
		return rot.Spec.Target
	}
	return "the previous versions"
}

// batches splits a plan into one group of items per namespace and target version, in
// order.
func batches(p *rollout.Plan) [][]rollout.Item {
	type key struct{ ns, to string }
	idx := map[key]int{}
	var out [][]rollout.Item
	for _, it := range p.Items {
		if it.Consumer.Namespace == "" {
			continue // cluster-scoped: reported in the plan only, never part of a batch
		}
		k := key{it.Consumer.Namespace, it.To}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], it)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i][0].Consumer.Namespace < out[j][0].Consumer.Namespace
	})
	return out
}

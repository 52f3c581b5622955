package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/health"
	"github.com/rotor-project/rotor/internal/lock"
	"github.com/rotor-project/rotor/internal/record"
	"github.com/rotor-project/rotor/internal/repoint"
)

// Event is a progress report.
type Event struct {
	Time    time.Time
	Object  string // "Deployment/web" or "" for the rotation as a whole
	Message string
}

// Runner carries out plans.
type Runner struct {
	Client    kubernetes.Interface
	Repointer *repoint.Repointer
	Waiter    *health.Waiter
	Records   *record.Store
	Locker    *lock.Locker
	Clock     clock.Clock
	// By is who runs the rotation, for the record.
	By string
	// Progress receives events; may be nil.
	Progress func(Event)
}

// Options tune one run.
type Options struct {
	// Timeout bounds the wait for health at each step (0: 5 minutes).
	Timeout time.Duration
	// NoRollback leaves consumers on the new version when a step fails.
	NoRollback bool
	// Gates judge each step besides Kubernetes health (e.g. metric analysis); in a
	// rolling rotation they run while the workloads roll out.
	Gates []gate.Gate
	// PostGates judge the finished rotation, after the last step is healthy (e.g. the
	// analysis that keeps watching for --analysis-duration). A failure still rolls back.
	PostGates []gate.Gate
	// OnInconclusive decides an inconclusive gate verdict: true continues. Nil treats
	// it as a failure.
	OnInconclusive func(context.Context, gate.Verdict) bool
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 5 * time.Minute
	}
	return o.Timeout
}

// Outcome is how a run ended.
type Outcome struct {
	// Repointed are the consumers this run changed (before any rollback).
	Repointed []repoint.Result
	// Failure is set when the run failed: which object, why.
	Failure *Failure
	// RolledBack are the consumers returned to their previous version.
	RolledBack []repoint.Result
	// RollbackErrors are consumers that could not be returned.
	RollbackErrors []string
	// Records are the rotation records written, one per namespace.
	Records []*record.Record
	// RepointedIn and HealthyIn time the run: all references changed / all healthy.
	RepointedIn, HealthyIn time.Duration
}

// Failure says which workload or gate failed, and why.
type Failure struct {
	Object  string
	Reason  string
	Verdict *gate.Verdict
}

func (f *Failure) Error() string {
	if f.Object == "" {
		return f.Reason
	}
	return f.Object + ": " + f.Reason
}

// ErrFailed is returned (wrapped) when a rotation failed and was handled (rolled back
// unless NoRollback).
var ErrFailed = errors.New("rotation failed")

func (r *Runner) emit(object, format string, a ...any) {
	if r.Progress != nil {
		r.Progress(Event{Time: r.Clock.Now(), Object: object, Message: fmt.Sprintf(format, a...)})
	}
}

// lockOnly takes the lock of every namespace of the plan; a lock taken over from a
// dead run marks that run's record as interrupted. The returned function releases.
func (r *Runner) lockOnly(ctx context.Context, p *Plan) ([]*lock.Lock, func(), error) {
	var locks []*lock.Lock
	release := func() {
		for _, l := range locks {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_ = l.Release(ctx)
			cancel()
		}
	}
	for _, ns := range p.Namespaces() {
		l, err := r.Locker.Acquire(ctx, ns, p.Family)
		if err != nil {
			release()
			return nil, nil, err
		}
		locks = append(locks, l)
		if l.TookOver {
			r.emit("", "took over the lock of %s in %s from %s, whose run ended without releasing it", p.Family, ns, l.PreviousHolder)
			r.abandon(ctx, ns, p.Family)
		}
	}
	return locks, release, nil
}

// begin takes the lock and writes a Progressing record for each namespace of the
// plan. The returned function releases the locks.
func (r *Runner) begin(ctx context.Context, p *Plan, action record.Action, strategy string) ([]*record.Record, func(), error) {
	_, release, err := r.lockOnly(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	var recs []*record.Record
	for _, ns := range p.Namespaces() {
		rec := &record.Record{Family: p.Family, Namespace: ns, Action: action, Strategy: strategy,
			Phase: record.Progressing, Started: r.Clock.Now().UTC(), By: r.By}
		for _, it := range p.Items {
			if it.Consumer.Namespace == ns && !it.Skip {
				rec.To = it.To
				from := ""
				if len(it.Changes) > 0 {
					from = it.Changes[0].From
				}
				rec.Consumers = append(rec.Consumers, record.Consumer{Kind: it.Consumer.Kind, Name: it.Consumer.Name, From: from, To: it.To, Drift: it.Drift})
			}
		}
		if err := r.Records.Create(ctx, rec); err != nil {
			release()
			return nil, nil, err
		}
		recs = append(recs, rec)
	}
	return recs, release, nil
}

// abandon marks records left Progressing by a run that died.
func (r *Runner) abandon(ctx context.Context, ns, fam string) {
	all, err := r.Records.List(ctx, ns, fam)
	if err != nil {
		return
	}
	for _, rec := range all {
		if rec.Phase == record.Progressing {
			now := r.Clock.Now().UTC()
			_ = r.Records.Update(ctx, rec, func(x *record.Record) {
				x.Phase, x.Finished, x.Message = record.Failed, &now, "interrupted: its run ended without finishing; a later run took over"
			})
		}
	}
}

// finish writes the final phase on the records.
func (r *Runner) finish(ctx context.Context, recs []*record.Record, phase record.Phase, msg string) {
	now := r.Clock.Now().UTC()
	ctx = context.WithoutCancel(ctx)
	for _, rec := range recs {
		_ = r.Records.Update(ctx, rec, func(x *record.Record) {
			x.Phase, x.Finished, x.Message = phase, &now, msg
		})
	}
}

// repointAll applies the items in parallel.
func (r *Runner) repointAll(ctx context.Context, fam string, items []Item, o repoint.Options) ([]repoint.Result, error) {
	results := make([]repoint.Result, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Repointer.Apply(ctx, it.Consumer.Target, fam, it.To, o)
			if err != nil {
				errs[i] = err
				return
			}
			results[i] = *res
			switch {
			case res.Unchanged():
			case o.DryRun:
				r.emit(it.Consumer.String(), "would re-point %d reference(s) %s → %s (accepted by the API server, dry run)", len(res.Changes), res.Previous, it.To)
			default:
				r.emit(it.Consumer.String(), "re-pointed %d reference(s) %s → %s", len(res.Changes), res.Previous, it.To)
			}
		}()
	}
	wg.Wait()
	var done []repoint.Result
	for i := range items {
		if errs[i] == nil {
			done = append(done, results[i])
		}
	}
	return done, errors.Join(errs...)
}

// waitHealthy waits for every rolling item, in parallel; the first failure cancels the
// others.
func (r *Runner) waitHealthy(ctx context.Context, items []Item, timeout time.Duration) *Failure {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var once sync.Once
	var failure *Failure
	var wg sync.WaitGroup
	for _, it := range items {
		if !it.Rolls {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := it.Consumer.Health()
			w := health.Workload{Kind: h.Kind, Namespace: h.Namespace, Name: h.Name}
			if err := r.Waiter.Wait(ctx, w, it.To); err != nil {
				once.Do(func() {
					failure = &Failure{Object: it.Consumer.String(), Reason: reason(err)}
					cancel()
				})
				return
			}
			r.emit(it.Consumer.String(), "healthy on %s", it.To)
		}()
	}
	wg.Wait()
	return failure
}

func reason(err error) string {
	var fe *health.FailedError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return err.Error()
}

// runGates runs every gate for the step concurrently and returns the first failure.
func (r *Runner) runGates(ctx context.Context, gates []gate.Gate, step gate.Step, o Options) *Failure {
	if len(gates) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	verdicts := make(chan gate.Verdict, len(gates))
	for _, g := range gates {
		go func() {
			v := g.Run(ctx, step)
			if v.Gate == "" {
				v.Gate = g.Name()
			}
			verdicts <- v
		}()
	}
	for range gates {
		v := <-verdicts
		r.emit("", "gate %s: %s %s", v.Gate, v.Phase, v.Message)
		switch v.Phase {
		case gate.Successful:
			continue
		case gate.Inconclusive:
			if o.OnInconclusive != nil && o.OnInconclusive(ctx, v) {
				continue
			}
		}
		return &Failure{Object: "gate " + v.Gate, Reason: fmt.Sprintf("%s: %s", v.Phase, v.Message), Verdict: &v}
	}
	return nil
}

// restore returns re-pointed consumers to where they were before this run, restoring
// their "came from" annotation too.
func (r *Runner) restore(ctx context.Context, fam string, done []repoint.Result, out *Outcome) {
	ctx = context.WithoutCancel(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, res := range done {
		if res.Unchanged() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			back, err := r.Repointer.Apply(ctx, res.Target, fam, res.Previous, repoint.Options{Restore: true, Annotation: res.Recorded})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.RollbackErrors = append(out.RollbackErrors, fmt.Sprintf("%s: %v", res.Target, err))
				return
			}
			out.RolledBack = append(out.RolledBack, *back)
			r.emit(res.Target.String(), "rolled back to %s", res.Previous)
		}()
	}
	wg.Wait()
	sort.Slice(out.RolledBack, func(i, j int) bool { return out.RolledBack[i].Target.String() < out.RolledBack[j].Target.String() })
}

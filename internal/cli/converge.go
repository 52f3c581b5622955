package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/health"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/rotation"
)

// converge checks, read only, that consumers already on their target are healthy:
// what a rerun does when nothing is left to re-point and no journal is unfinished.
func (r *runner) converge(ctx context.Context, rot *v1alpha1.SecretRotation) error {
	w := &health.Waiter{Client: r.eng.Clients.Typed, Dynamic: r.eng.Clients.Dynamic, Progress: func(w health.Workload, msg string) {
		fmt.Fprintf(r.progress, "%s  %-32s %s\n", stamp(r.f.Clock.Since(r.start)), w, msg)
	}}
	timeout := rotation.DefaultTimeout
	if t := rot.Spec.Timeout; t != nil && t.Duration > 0 {
		timeout = t.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range rot.Status.Consumers {
		if c.Skip || !c.Rolls {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Wait(ctx, health.Workload{Kind: c.Kind, Namespace: rot.Namespace, Name: c.Name}, c.To); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", errRotationFailed, err)
	}
	return nil
}

// dryRun ends a --dry-run after the plan was printed: client stops there; server sends
// every patch with dryRun=All, so the API server validates and admits them.
func (r *runner) dryRun(ctx context.Context, plan *rollout.Plan, strategy dryRunStrategy) error {
	if strategy != dryRunServer {
		fmt.Fprintln(r.progress, "dry run: nothing was changed")
		return nil
	}
	active := plan.Active()
	errs := make([]error, len(active))
	var wg sync.WaitGroup
	for i, it := range active {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.eng.Repointer.Apply(ctx, it.Consumer.Target, plan.Family, it.To, repoint.Options{DryRun: true, Annotate: true})
			if err != nil {
				errs[i] = err
				return
			}
			if !res.Unchanged() {
				fmt.Fprintf(r.progress, "%s  %-32s would re-point %d reference(s) %s → %s (accepted by the API server, dry run)\n",
					stamp(r.f.Clock.Since(r.start)), it.Consumer.String(), len(res.Changes), res.Previous, it.To)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the API server refused a re-point (dry run, nothing was changed): %w", err)
	}
	fmt.Fprintf(r.progress, "dry run (server): the API server accepted all %d patch(es); nothing was changed\n", len(active))
	return nil
}

// markReverted records on a rotation the rollback that reversed it.
func markReverted(ctx context.Context, r *runner, rot *v1alpha1.SecretRotation, by string) error {
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := r.eng.Journal.Get(ctx, rot.Namespace, rot.Name)
		if err != nil {
			return err
		}
		cur.Status.RevertedBy = by
		if _, err = r.eng.Journal.Update(ctx, cur); err == nil || !rotation.IsConflict(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.f.Clock.After(time.Duration(attempt*50) * time.Millisecond):
		}
	}
	return fmt.Errorf("could not record on rotation %s that %s reversed it: it kept changing", rot.Name, by)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

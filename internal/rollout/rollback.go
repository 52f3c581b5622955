package rollout

import (
	"context"
	"fmt"

	"github.com/rotor-project/rotor/internal/record"
	"github.com/rotor-project/rotor/internal/repoint"
)

// Rollback re-points every consumer of the plan to its target (its recorded previous
// version, or the one asked for), all in parallel, then waits for health. Each consumer
// records the version it leaves, so a second rollback goes forward again. The targets
// were verified to exist when the plan was made; nothing is rolled back automatically
// if the rollback itself fails to become healthy: the report says so.
func (r *Runner) Rollback(ctx context.Context, p *Plan, o Options) (*Outcome, error) {
	recs, release, err := r.begin(ctx, p, record.Rollback, "rollback")
	if err != nil {
		return nil, err
	}
	defer release()
	out := &Outcome{Records: recs}
	start := r.Clock.Now()
	active := p.Active()
	done, err := r.repointAll(ctx, p.Family, active, repoint.Options{Annotate: true})
	out.Repointed = done
	out.RepointedIn = r.Clock.Since(start)
	if err != nil {
		out.Failure = &Failure{Reason: err.Error()}
		r.finish(ctx, recs, record.Failed, "rollback incomplete: "+err.Error())
		return out, fmt.Errorf("%w: rollback incomplete: %w", ErrFailed, err)
	}
	r.emit("", "all %d consumer(s) re-pointed in %s", len(active), out.RepointedIn.Round(timeRound))
	if f := r.waitHealthy(ctx, p.Items, o.timeout()); f != nil {
		out.Failure = f
		r.finish(ctx, recs, record.Failed, "rolled back, but not healthy: "+f.Error())
		return out, fmt.Errorf("%w: rolled back, but %s", ErrFailed, f.Error())
	}
	out.HealthyIn = r.Clock.Since(start)
	r.finish(ctx, recs, record.Succeeded, fmt.Sprintf("%d consumer(s) rolled back", len(active)))
	return out, nil
}

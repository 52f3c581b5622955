package cleanup

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

// JournalPolicy says how long finished rotation journals are kept.
type JournalPolicy struct {
	// Retain is how long a finished journal is kept after it finished (90 days).
	Retain time.Duration
	// Keep is how many of the newest journals per family and namespace are always
	// kept (20).
	Keep int
}

// DefaultJournalPolicy keeps 90 days, and at least the last 20.
var DefaultJournalPolicy = JournalPolicy{Retain: 90 * 24 * time.Hour, Keep: 20}

// PrunableJournals are the journals of the family the policy lets go: finished, older
// than Retain, and not among the newest Keep of their namespace. An unfinished one is
// never pruned.
func PrunableJournals(rots []*v1alpha1.SecretRotation, p JournalPolicy, now time.Time) []*v1alpha1.SecretRotation {
	byNS := map[string][]*v1alpha1.SecretRotation{}
	for _, r := range rots {
		byNS[r.Namespace] = append(byNS[r.Namespace], r)
	}
	var out []*v1alpha1.SecretRotation
	for _, rs := range byNS {
		sort.SliceStable(rs, func(i, j int) bool { return started(rs[i]).After(started(rs[j])) })
		for i, r := range rs {
			if i < p.Keep || !r.Status.Phase.Final() || r.Status.Finished == nil || now.Sub(r.Status.Finished.Time) < p.Retain {
				continue
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+out[i].Name < out[j].Namespace+out[j].Name })
	return out
}

func started(r *v1alpha1.SecretRotation) time.Time {
	if r.Status.Started != nil {
		return r.Status.Started.Time
	}
	return r.CreationTimestamp.Time
}

// PruneJournals deletes the journals PrunableJournals picks and returns them. It
// holds no lock of its own: the caller holds the family's lock.
func (c *Cleaner) PruneJournals(ctx context.Context, req Request, p JournalPolicy, dryRun bool) ([]*v1alpha1.SecretRotation, error) {
	rots, err := c.records(ctx, req)
	if err != nil {
		return nil, err
	}
	prune := PrunableJournals(rots, p, c.Clock.Now())
	if dryRun {
		return prune, nil
	}
	for _, r := range prune {
		if err := c.Journal.Delete(ctx, r); err != nil {
			return nil, fmt.Errorf("deleting rotation journal %s in namespace %q: %w", r.Name, r.Namespace, err)
		}
	}
	return prune, nil
}

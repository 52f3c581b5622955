package rollout

import (
	"context"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ReadWidth is how many consumers a plan, or a step of the engine, reads at once: a
// family's consumers in one namespace (a dozen or so) in one round trip, while the
// API server's priority and fairness protects it from a controller's many steps.
const ReadWidth = 16

// readResult is a consumer as read for a plan, or why it could not be.
type readResult struct {
	obj *unstructured.Unstructured
	err error
}

// read fetches the consumers a plan reads (the namespaced, mutable ones) side by side:
// a plan of a dozen consumers costs a couple of round trips, not a dozen. Each result
// is at its consumer's index; the others are zero.
func (pl *Planner) read(ctx context.Context, cs []Consumer) []readResult {
	out := make([]readResult, len(cs))
	var g errgroup.Group
	g.SetLimit(ReadWidth)
	for i, c := range cs {
		if c.Immutable || c.Namespace == "" {
			continue
		}
		g.Go(func() error {
			out[i].obj, out[i].err = pl.Repointer.Get(ctx, c.Target)
			return nil
		})
	}
	_ = g.Wait() // every error is in its result
	return out
}

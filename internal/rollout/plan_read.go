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

// targetRead is a request's target version in its namespace, read beside its
// consumers. Only what was read without error is kept: the plan reads anything else
// again where it needs it, and reports the error there.
type targetRead struct {
	latest   string // what Latest resolved to
	resolved bool   // latest is set
	name     string
	info     TargetInfo
	exists   bool
	read     bool // name, info and exists are set
}

// target is the target to in namespace ns of req, if tr read it (ok).
func (tr *targetRead) target(req Request, ns, to string) (info TargetInfo, exists, ok bool) {
	if tr == nil || !tr.read || ns != req.Namespace || to != tr.name {
		return TargetInfo{}, false, false
	}
	return tr.info, tr.exists, true
}

// readBeside reads the consumers and, when the request names one namespace and a
// target (a version, or the latest), that target at the same time: a plan of one
// namespace (a controller's) costs the round trip of its slowest read, not the
// consumers' and then the target's.
func (pl *Planner) readBeside(ctx context.Context, cs []Consumer, req Request) ([]readResult, *targetRead) {
	if req.Namespace == "" || req.To == "" || req.Back {
		return pl.read(ctx, cs), nil
	}
	tr := &targetRead{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		to := req.To
		if to == Latest {
			latest, err := pl.Latest(ctx, req.Namespace, req.Family)
			if err != nil {
				return
			}
			tr.latest, tr.resolved, to = latest, true, latest
		}
		if to == "" {
			return
		}
		info, exists, err := pl.target(ctx, req.Namespace, req.Family, to)
		if err == nil {
			tr.name, tr.info, tr.exists, tr.read = to, info, exists, true
		}
	}()
	objs := pl.read(ctx, cs)
	<-done
	return objs, tr
}

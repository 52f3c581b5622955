package rotation

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/repoint"
)

// Mover changes which version consumers name: forward to their targets (ActRepoint) or
// back to where they came from (ActRestore). The engine calls it for those two writes
// and for nothing else.
//
// Two implementations exist. The live one (the engine's default) patches each object
// in the cluster (internal/repoint): the cluster shows the change at once. A rotation
// through git (spec.gitops) uses internal/gitops.Mover: it commits (and pushes) the
// rewrite of the manifests and returns the commit, which the engine records in the
// journal (status.commits) and then waits for the cluster to show — the GitOps engine
// applies it — before it judges health and gates exactly as for a live change. A
// failure is then reverted by a second commit.
type Mover interface {
	// Move carries out m. A mover whose change reaches the cluster later (a commit)
	// returns what it made; the live mover returns nil.
	Move(ctx context.Context, rot *v1alpha1.SecretRotation, m Move) (*v1alpha1.SourceChange, error)
}

// Move is one write that moves consumers.
type Move struct {
	// Back: a restore after a failure (each consumer returns from its To to its From);
	// otherwise each goes to its To.
	Back bool
	Step int32
	// Items are the consumers that move.
	Items []MoveItem
}

// MoveItem is one consumer that moves.
type MoveItem struct {
	// Index is its place in status.consumers.
	Index    int
	Consumer v1alpha1.ConsumerStatus
	// From is the version it leaves (forward: any other version of the family), To the
	// one it goes to.
	From, To string
	// Object is the consumer as the step read it (nil: not read). The live mover
	// patches it, on condition that it has not changed since, instead of reading it
	// again.
	Object *unstructured.Unstructured
}

// Objects are the items as Kind/name.
func (m Move) Objects() []string {
	out := make([]string, len(m.Items))
	for i, it := range m.Items {
		out[i] = it.Consumer.Kind + "/" + it.Consumer.Name
	}
	return out
}

// ErrBlueGreenThroughGit refuses a blue-green rotation through git. Its steps scale
// the Deployment and run a green copy beside it: the GitOps engine owns the
// Deployment's replicas (it applies them from git and would put them back at its next
// reconcile), and a green copy is not in the repository. A rolling rotation through git
// is gated by the same health and analysis.
var ErrBlueGreenThroughGit = errors.New("a blue-green rotation cannot run through git: its steps scale the Deployment and run a green copy beside it, while the GitOps engine owns the Deployment's replicas (it would put them back at its next reconcile) and the green copy is not in the repository; rotate through git with the rolling strategy (the same health and analysis gate it), or rotate live")

// GitOpsUnavailableError says a rotation changes its consumers through git (its spec
// says so) and the engine driving it was given no git repository to commit to.
type GitOpsUnavailableError struct{ Namespace, Name string }

func (e *GitOpsUnavailableError) Error() string {
	return fmt.Sprintf("rotation %s in namespace %q changes its consumers through git, and this run has no git repository to commit to: a live change would be reverted by the GitOps engine; continue it through git", e.Name, e.Namespace)
}

// mover is the mover for rot: live patches, or the GitOps mover for a rotation through
// git.
func (e *Engine) mover(rot *v1alpha1.SecretRotation) (Mover, error) {
	if rot.Spec.GitOps == nil {
		return livePatches{e: e}, nil
	}
	if e.GitOps == nil {
		return nil, &GitOpsUnavailableError{Namespace: rot.Namespace, Name: rot.Name}
	}
	return e.GitOps, nil
}

// livePatches is the live mover: one JSON patch per object, in parallel, each
// recording (forward) or restoring (back) the previous-version annotation.
type livePatches struct{ e *Engine }

func (l livePatches) Move(ctx context.Context, rot *v1alpha1.SecretRotation, m Move) (*v1alpha1.SourceChange, error) {
	e := l.e
	idx := make([]int, len(m.Items))
	for k := range m.Items {
		idx[k] = k
	}
	return nil, e.each(ctx, idx, func(ctx context.Context, k int) error {
		it := m.Items[k]
		c := it.Consumer
		if m.Back {
			if _, err := e.apply(ctx, rot, c, it.To, repoint.Options{Restore: true, Annotation: c.PreviousAnnotation, Seen: it.Object}); err != nil {
				return err
			}
			e.emit(rot, c.Kind+"/"+c.Name, "rolled back to %s", it.To)
			return nil
		}
		res, err := e.apply(ctx, rot, c, it.To, repoint.Options{Annotate: true, Seen: it.Object})
		if err == nil && !res.Unchanged() {
			e.emit(rot, c.Kind+"/"+c.Name, "re-pointed %d reference(s) %s → %s", len(res.Changes), res.Previous, it.To)
		}
		return err
	})
}

// throughSource reports whether rot's changes are made in a source the cluster follows
// (git) rather than live.
func throughSource(rot *v1alpha1.SecretRotation) bool { return rot.Spec.GitOps != nil }

// lastChange is the newest source change of the rotation, or nil.
func lastChange(st *v1alpha1.RotationStatus) *v1alpha1.SourceChange {
	if n := len(st.Commits); n > 0 {
		return &st.Commits[n-1]
	}
	return nil
}

// committedForward reports whether a re-point was committed to the source: the cluster
// will show it sooner or later, so a failure must revert it whatever the cluster shows
// now.
func committedForward(st *v1alpha1.RotationStatus) bool {
	for _, c := range st.Commits {
		if c.Action == string(ActRepoint) {
			return true
		}
	}
	return false
}

// restorable reports whether consumer c can go back to where it came from.
func restorable(c v1alpha1.ConsumerStatus, o Observation) bool {
	return c.From != "" && c.From != c.To && !o.Missing[c.From]
}

// allBack reports whether no active restorable consumer names its target any more.
func allBack(rot *v1alpha1.SecretRotation, o Observation) bool {
	for _, i := range active(rot, o) {
		c := rot.Status.Consumers[i]
		if !restorable(c, o) {
			continue
		}
		for _, v := range o.Consumers[i].Versions {
			if v == c.To {
				return false
			}
		}
	}
	return true
}

// allAtTarget reports whether every active consumer names its target, and only it.
func allAtTarget(rot *v1alpha1.SecretRotation, o Observation) bool {
	for _, i := range active(rot, o) {
		if !o.Consumers[i].At(rot.Status.Consumers[i].To) {
			return false
		}
	}
	return true
}

// awaitApply is the wait for the cluster to show the newest source change of kind act,
// when there is one it has not shown yet.
func awaitApply(rot *v1alpha1.SecretRotation, act ActionType) (Action, bool) {
	last := lastChange(&rot.Status)
	if last == nil || last.Action != string(act) || last.Applied != nil {
		return Action{}, false
	}
	return Action{Type: ActWait, Reason: fmt.Sprintf("the GitOps engine to apply commit %s", shortHash(last.Commit))}, true
}

// decideSourceRollback rolls back a rotation through git: the re-point that was
// committed is reverted by a commit, whatever the cluster shows yet (the GitOps engine
// may apply the re-point later), and the engine waits for the cluster to show the
// revert. ok is false when there is nothing (more) to do here.
func decideSourceRollback(rot *v1alpha1.SecretRotation, o Observation) (Action, bool) {
	last := lastChange(&rot.Status)
	switch {
	case last == nil:
		return Action{}, false // nothing was committed: nothing to revert
	case last.Action == string(ActRestore):
		if last.Applied == nil && !allBack(rot, o) {
			return Action{Type: ActWait, Reason: fmt.Sprintf("the GitOps engine to apply revert commit %s", shortHash(last.Commit))}, true
		}
		return Action{}, false
	}
	var idx []int
	for _, i := range active(rot, o) {
		if restorable(rot.Status.Consumers[i], o) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return Action{}, false
	}
	return Action{Type: ActRestore, Consumers: idx}, true
}

// recordApplied stamps the newest source change as applied once the cluster shows it.
func recordApplied(rot *v1alpha1.SecretRotation, o Observation) {
	last := lastChange(&rot.Status)
	if last == nil || last.Applied != nil {
		return
	}
	switch last.Action {
	case string(ActRepoint):
		if !allAtTarget(rot, o) {
			return
		}
	case string(ActRestore):
		if !allBack(rot, o) {
			return
		}
	}
	last.Applied = now(o.Now)
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

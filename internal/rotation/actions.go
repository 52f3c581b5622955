package rotation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/internal/secretref"
)

// prepare records, before a write, what a rerun needs to undo it: the size of each blue
// Deployment before its green copy exists.
func prepare(rot *v1alpha1.SecretRotation, a Action, o Observation) {
	if a.Type != ActCreateGreen {
		return
	}
	for _, i := range a.Consumers {
		c := rot.Status.Consumers[i]
		if greenOf(rot, c.Name) != nil {
			continue
		}
		rot.Status.Green = append(rot.Status.Green, v1alpha1.GreenStatus{Of: c.Name, Name: rollout.GreenName(c.Name), Replicas: o.Consumers[i].Replicas})
	}
}

// intent says what a write is about to do.
func intent(rot *v1alpha1.SecretRotation, a Action, t time.Time) *v1alpha1.Intent {
	in := &v1alpha1.Intent{Action: string(a.Type), Step: a.Step, At: metav1.NewTime(t)}
	st := &rot.Status
	for _, i := range a.Consumers {
		c := st.Consumers[i]
		in.Objects = append(in.Objects, c.Kind+"/"+c.Name)
	}
	for _, j := range a.Green {
		in.Objects = append(in.Objects, "Deployment/"+st.Green[j].Name)
	}
	switch a.Type {
	case ActCreateGreen:
		in.Detail = "create green copies on " + st.TargetVersion
	case ActScale:
		in.Detail = fmt.Sprintf("scale green to %d%% of the replicas and blue to the rest", st.Steps[a.Step])
	case ActRepoint:
		in.Detail = "re-point to " + targetText(rot)
	case ActRestore:
		in.Detail = "return consumers to the versions they came from, and blue to its size"
	case ActDeleteGreen:
		in.Detail = "delete green copies"
	}
	return in
}

func targetText(rot *v1alpha1.SecretRotation) string {
	if rot.Status.TargetVersion != "" {
		return rot.Status.TargetVersion
	}
	return "their previous versions"
}

// do carries out a write action. A re-point or restore through git returns the commit
// it made.
func (e *Engine) do(ctx context.Context, rot *v1alpha1.SecretRotation, a Action, o Observation) (*v1alpha1.SourceChange, error) {
	switch a.Type {
	case ActRepoint:
		return e.repoint(ctx, rot, a, o)
	case ActRestore:
		return e.restore(ctx, rot, a, o)
	}
	return nil, e.doLive(ctx, rot, a)
}

// repoint moves consumers to their targets; in a blue-green rotation's last step blue
// first returns to its full size.
func (e *Engine) repoint(ctx context.Context, rot *v1alpha1.SecretRotation, a Action, o Observation) (*v1alpha1.SourceChange, error) {
	st := &rot.Status
	mv, err := e.mover(rot)
	if err != nil {
		return nil, err
	}
	if rot.Spec.Strategy.Type != v1alpha1.BlueGreen {
		e.emit(rot, "", "re-pointing %d consumer(s) to %s", len(a.Consumers), targetText(rot))
	}
	m := Move{Step: a.Step}
	for _, i := range a.Consumers {
		c := st.Consumers[i]
		if g := greenOf(rot, c.Name); g != nil {
			if err := e.scale(ctx, rot.Namespace, g.Of, g.Replicas); err != nil {
				return nil, err
			}
		}
		m.Items = append(m.Items, MoveItem{Index: i, Consumer: c, From: c.From, To: c.To, Object: o.object(i)})
	}
	return mv.Move(ctx, rot, m)
}

// restore returns consumers to the versions they came from, and blue to its size. Live,
// only consumers the cluster shows on their target move; through git, the committed
// re-point is reverted for every consumer it moved (Decide chose them).
func (e *Engine) restore(ctx context.Context, rot *v1alpha1.SecretRotation, a Action, o Observation) (*v1alpha1.SourceChange, error) {
	st := &rot.Status
	mv, err := e.mover(rot)
	if err != nil {
		return nil, err
	}
	m := Move{Back: true, Step: a.Step}
	for _, i := range a.Consumers {
		c := st.Consumers[i]
		if restorable(c, o) && (throughSource(rot) || o.Consumers[i].At(c.To)) {
			m.Items = append(m.Items, MoveItem{Index: i, Consumer: c, From: c.To, To: c.From, Object: o.object(i)})
		}
	}
	var change *v1alpha1.SourceChange
	if len(m.Items) > 0 {
		if change, err = mv.Move(ctx, rot, m); err != nil {
			return nil, err
		}
	}
	for _, i := range a.Consumers {
		c := st.Consumers[i]
		if g := greenOf(rot, c.Name); g != nil && o.Consumers[i].Replicas != g.Replicas {
			if err := e.scale(ctx, rot.Namespace, g.Of, g.Replicas); err != nil {
				return nil, err
			}
			e.emit(rot, c.Kind+"/"+c.Name, "blue back to %d replicas", g.Replicas)
		}
	}
	return change, nil
}

// doLive carries out the writes only a live rotation makes: green copies, scaling, and
// their deletion.
func (e *Engine) doLive(ctx context.Context, rot *v1alpha1.SecretRotation, a Action) error {
	st := &rot.Status
	switch a.Type {
	case ActCreateGreen:
		for _, g := range st.Green {
			if err := e.ensureGreen(ctx, rot, g); err != nil {
				return err
			}
		}
	case ActScale:
		w := st.Steps[a.Step]
		for _, g := range st.Green {
			share := rollout.GreenShare(g.Replicas, int(w))
			if err := e.scale(ctx, rot.Namespace, g.Name, share); err != nil {
				return err
			}
			if err := e.scale(ctx, rot.Namespace, g.Of, g.Replicas-share); err != nil {
				return err
			}
			e.emit(rot, "Deployment/"+g.Of, "%d%%: green %d, blue %d of %d replicas", w, share, g.Replicas-share, g.Replicas)
		}
	case ActDeleteGreen:
		for _, j := range a.Green {
			g := st.Green[j]
			err := e.Retry.Do(ctx, func(ctx context.Context) error {
				err := e.Client.AppsV1().Deployments(rot.Namespace).Delete(ctx, g.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
				if apierrors.IsNotFound(err) {
					return nil
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("deleting green copy %s: %w", g.Name, err)
			}
			e.emit(rot, "Deployment/"+g.Of, "deleting green copy %s", g.Name)
		}
	}
	return nil
}

// each runs fn for every index in parallel and joins the errors.
func (e *Engine) each(ctx context.Context, idx []int, fn func(context.Context, int) error) error {
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	for k, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = fn(ctx, i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// apply re-points one consumer, retrying transient failures.
func (e *Engine) apply(ctx context.Context, rot *v1alpha1.SecretRotation, c v1alpha1.ConsumerStatus, to string, o repoint.Options) (*repoint.Result, error) {
	var res *repoint.Result
	t := repoint.Target{Kind: c.Kind, Namespace: rot.Namespace, Name: c.Name}
	err := e.Retry.Do(ctx, func(ctx context.Context) error {
		var err error
		o.Unversioned = rot.Spec.Adopt
		res, err = e.Repointer.Apply(ctx, t, rot.Spec.Family, to, o)
		o.Seen = nil // a retry reads the object: the failure may have come after the patch
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (e *Engine) scale(ctx context.Context, ns, name string, replicas int32) error {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	err := e.Retry.Do(ctx, func(ctx context.Context) error {
		_, err := e.Client.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: repoint.FieldManager})
		return err
	})
	if err != nil {
		return fmt.Errorf("scaling Deployment/%s to %d: %w", name, replicas, err)
	}
	return nil
}

// ensureGreen creates the green copy of a Deployment on the rotation's target, with no
// replicas, or brings an existing one to the target.
func (e *Engine) ensureGreen(ctx context.Context, rot *v1alpha1.SecretRotation, g v1alpha1.GreenStatus) error {
	deps := e.Client.AppsV1().Deployments(rot.Namespace)
	fam, to := rot.Spec.Family, targetOf(rot, g.Of)
	var blue *appsv1.Deployment
	err := e.Retry.Do(ctx, func(ctx context.Context) error {
		var err error
		blue, err = deps.Get(ctx, g.Of, metav1.GetOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("reading Deployment/%s: %w", g.Of, err)
	}
	green := greenCopy(blue, g, fam, to, rot.Spec.Adopt)
	err = e.Retry.Do(ctx, func(ctx context.Context) error {
		_, err := deps.Create(ctx, green, metav1.CreateOptions{FieldManager: repoint.FieldManager})
		return err
	})
	switch {
	case err == nil:
		e.emit(rot, "Deployment/"+g.Of, "created green copy %s on %s", g.Name, to)
		return nil
	case !apierrors.IsAlreadyExists(err):
		return fmt.Errorf("creating green copy %s: %w", g.Name, err)
	}
	if _, err := e.apply(ctx, rot, v1alpha1.ConsumerStatus{Kind: "Deployment", Name: g.Name}, to, repoint.Options{}); err != nil {
		return err
	}
	e.emit(rot, "Deployment/"+g.Of, "reusing green copy %s left by an earlier run (blue size %d)", g.Name, g.Replicas)
	return nil
}

// greenCopy is blue's green copy: the same pod labels plus LabelColor (so neither
// adopts the other's pods, while a Service selecting the shared labels routes to both),
// naming version to, owned by blue, with no replicas yet.
func greenCopy(blue *appsv1.Deployment, g v1alpha1.GreenStatus, fam, to string, unversioned bool) *appsv1.Deployment {
	green := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:      g.Name,
			Namespace: blue.Namespace,
			Labels:    copyWith(blue.Labels, rollout.LabelColor, "green"),
			Annotations: map[string]string{
				rollout.AnnotationBlueReplicas: strconv.Itoa(int(g.Replicas)),
				rollout.AnnotationGreenOf:      blue.Name,
				family.AnnotationFamily:        fam,
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: blue.Name, UID: blue.UID}},
		},
		Spec: *blue.Spec.DeepCopy(),
	}
	green.Spec.Replicas = ptr.To(int32(0))
	green.Spec.Selector = blue.Spec.Selector.DeepCopy()
	green.Spec.Selector.MatchLabels = copyWith(green.Spec.Selector.MatchLabels, rollout.LabelColor, "green")
	green.Spec.Template.Labels = copyWith(green.Spec.Template.Labels, rollout.LabelColor, "green")
	secretref.PodSpec("spec.template.spec", &green.Spec.Template.Spec, func(ref secretref.Ref) bool {
		if repoint.Names(fam, ref.Name, unversioned) {
			ref.Set(to)
		}
		return true
	})
	return green
}

func copyWith(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// complete records what a write did. A change made in git (change) is recorded as a
// commit; the cluster shows it later, so the consumers' observed versions and the
// step's start wait for it (MarkRepointed starts the step then).
func complete(rot *v1alpha1.SecretRotation, a Action, t time.Time, change *v1alpha1.SourceChange) {
	st := &rot.Status
	if change != nil {
		c := *change
		c.Action, c.Step = string(a.Type), a.Step
		if c.At.IsZero() {
			c.At = metav1.NewTime(t)
		}
		st.Commits = append(st.Commits, c)
	}
	switch a.Type {
	case ActScale:
		st.StepStarted, st.StepHealthy = now(t), nil
	case ActRepoint:
		if change == nil {
			for _, i := range a.Consumers {
				st.Consumers[i].Observed = st.Consumers[i].To
			}
			if st.StepStarted == nil {
				st.StepStarted = now(t)
			}
		}
		st.StepHealthy = nil
	case ActRestore:
		for _, i := range a.Consumers {
			c := &st.Consumers[i]
			if c.From != "" && c.From != c.To {
				c.Restored = true
				if change == nil {
					c.Observed = c.From
				}
			}
		}
	}
}

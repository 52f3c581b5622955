package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/gate"
	"github.com/rotor-project/rotor/internal/record"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/secretref"
)

// Blue-green bookkeeping on the green Deployment.
const (
	// LabelColor marks green pods (and the green Deployment's selector), so blue and
	// green pods never belong to each other's ReplicaSets while a Service selecting the
	// shared pod labels routes to both.
	LabelColor = "rotor.dev/color"
	// AnnotationBlueReplicas remembers the blue Deployment's size before the first step,
	// so a rerun after a crash restores the right size.
	AnnotationBlueReplicas = "rotor.dev/blue-replicas"
	// AnnotationGreenOf names the blue Deployment a green copy belongs to.
	AnnotationGreenOf = "rotor.dev/green-of"
)

// ValidateSteps checks blue-green steps: increasing percentages from 1 to 100 that end
// at 100.
func ValidateSteps(steps []int) error {
	if len(steps) == 0 {
		return errors.New("--steps is empty: give increasing percentages ending at 100, e.g. 10,50,100")
	}
	prev := 0
	for _, s := range steps {
		if s <= prev || s > 100 {
			return fmt.Errorf("--steps %v: each step must be greater than the one before and at most 100, e.g. 10,50,100", steps)
		}
		prev = s
	}
	if prev != 100 {
		return fmt.Errorf("--steps %v must end at 100: the last step moves the original Deployment itself", steps)
	}
	return nil
}

// GreenName is the green copy of a Deployment.
func GreenName(blue string) string {
	const suffix = "-rotor-green"
	if len(blue)+len(suffix) <= 63 {
		return blue + suffix
	}
	sum := sha256.Sum256([]byte(blue))
	return blue[:63-len(suffix)-9] + "-" + hex.EncodeToString(sum[:])[:8] + suffix
}

// GreenShare is how many of total replicas green runs at weight percent: rounded up,
// so every step before 100 % runs at least one green pod.
func GreenShare(total int32, weight int) int32 {
	g := (int64(total)*int64(weight) + 99) / 100
	if g < 1 && weight > 0 {
		g = 1
	}
	if g > int64(total) {
		g = int64(total)
	}
	return int32(g)
}

// BlueGreen moves Deployments in steps. For each Deployment a green copy that names the
// new version and carries the same pod labels (plus LabelColor) runs beside the
// original; at each step green holds that share of the replicas and blue the rest (the
// Kubernetes-native approximation of routing that share of traffic through a Service
// that selects both); each step waits for health, pauses, then runs the gates. At 100 %
// the original Deployment itself is re-pointed (its name survives, as GitOps expects),
// and once healthy the green copy is deleted. Failure or abort at any step: blue back
// to full size on its old version, green deleted.
func (r *Runner) BlueGreen(ctx context.Context, p *Plan, steps []int, pause time.Duration, o Options) (*Outcome, error) {
	if err := ValidateSteps(steps); err != nil {
		return nil, err
	}
	var others []string
	for _, it := range p.Active() {
		if it.Consumer.Kind != "Deployment" {
			others = append(others, it.Consumer.String())
		}
	}
	if len(others) > 0 {
		return nil, &PlanError{Problems: []string{fmt.Sprintf("--strategy bluegreen works on Deployments only, and these consumers are not: %s; use --strategy rolling, or narrow the scope with --workload or -l",
			strings.Join(others, ", "))}}
	}
	if err := r.autoscaledDeployments(ctx, p.Active()); err != nil {
		return nil, err
	}
	recs, release, err := r.begin(ctx, p, record.Rollout, "bluegreen")
	if err != nil {
		return nil, err
	}
	defer release()
	out := &Outcome{Records: recs}
	start := r.Clock.Now()
	active := p.Active()

	totals := make([]int32, len(active))
	for i, it := range active {
		total, err := r.ensureGreen(ctx, p.Family, it)
		if err != nil {
			out.Failure = &Failure{Object: it.Consumer.String(), Reason: err.Error()}
			return r.abortBlueGreen(ctx, p, recs, active, totals, out, o)
		}
		totals[i] = total
	}
	for si, w := range steps {
		step := gate.Step{Family: p.Family, Namespace: active[0].Consumer.Namespace, Version: active[0].To,
			Index: si, Weight: w, Final: w == 100, Started: r.Clock.Now()}
		for _, it := range active {
			step.Workloads = append(step.Workloads, gate.Workload{Kind: "Deployment", Namespace: it.Consumer.Namespace, Name: it.Consumer.Name})
		}
		var f *Failure
		if w < 100 {
			f = r.blueGreenStep(ctx, active, totals, w, o)
		} else {
			f = r.blueGreenFinal(ctx, p.Family, active, totals, out, o)
		}
		if f == nil && w < 100 && pause > 0 {
			r.emit("", "step %d (%d%%) healthy; pausing %s", si+1, w, pause)
			select {
			case <-ctx.Done():
				f = &Failure{Reason: "interrupted: " + ctx.Err().Error()}
			case <-r.Clock.After(pause):
			}
		}
		if f == nil {
			f = r.runGates(ctx, o.Gates, step, o)
		}
		if f != nil {
			out.Failure = f
			return r.abortBlueGreen(ctx, p, recs, active, totals, out, o)
		}
		r.emit("", "step %d of %d passed: %d%% on %s", si+1, len(steps), w, active[0].To)
	}
	if len(o.PostGates) > 0 {
		r.emit("", "rolled out; the post-rollout gates decide now")
		step := gate.Step{Family: p.Family, Namespace: active[0].Consumer.Namespace, Version: active[0].To,
			Index: len(steps), Weight: 100, Final: true, Started: r.Clock.Now()}
		if f := r.runGates(ctx, o.PostGates, step, o); f != nil {
			out.Failure = f
			return r.abortBlueGreen(ctx, p, recs, active, totals, out, o)
		}
	}
	for _, it := range active {
		if err := r.deleteGreen(ctx, it.Consumer.Namespace, it.Consumer.Name); err != nil {
			r.emit(it.Consumer.String(), "could not delete its green copy: %v", err)
		}
	}
	out.HealthyIn = r.Clock.Since(start)
	r.finish(ctx, recs, record.Succeeded, fmt.Sprintf("%d Deployment(s) on %s (bluegreen %v)", len(active), active[0].To, steps))
	return out, nil
}

// ensureGreen creates (or, on a rerun, updates) the green copy of a Deployment and
// returns the blue size to restore and split.
func (r *Runner) ensureGreen(ctx context.Context, fam string, it Item) (int32, error) {
	deps := r.Client.AppsV1().Deployments(it.Consumer.Namespace)
	blue, err := deps.Get(ctx, it.Consumer.Name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	total := ptr.Deref(blue.Spec.Replicas, 1)
	name := GreenName(blue.Name)
	existing, err := deps.Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		if n, perr := strconv.Atoi(existing.Annotations[AnnotationBlueReplicas]); perr == nil {
			total = int32(n)
		}
		if _, err := r.Repointer.Apply(ctx, repoint.Target{Kind: "Deployment", Namespace: blue.Namespace, Name: name}, fam, it.To, repoint.Options{}); err != nil {
			return 0, err
		}
		r.emit(it.Consumer.String(), "reusing green copy %s left by an earlier run (blue size %d)", name, total)
		return total, nil
	case !apierrors.IsNotFound(err):
		return 0, err
	}
	green := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: blue.Namespace,
			Labels:    copyWith(blue.Labels, LabelColor, "green"),
			Annotations: map[string]string{
				AnnotationBlueReplicas:  strconv.Itoa(int(total)),
				AnnotationGreenOf:       blue.Name,
				family.AnnotationFamily: fam,
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: blue.Name, UID: blue.UID}},
		},
		Spec: *blue.Spec.DeepCopy(),
	}
	green.Spec.Replicas = ptr.To(int32(0))
	green.Spec.Selector = blue.Spec.Selector.DeepCopy()
	green.Spec.Selector.MatchLabels = copyWith(green.Spec.Selector.MatchLabels, LabelColor, "green")
	green.Spec.Template.Labels = copyWith(green.Spec.Template.Labels, LabelColor, "green")
	secretref.PodSpec("spec.template.spec", &green.Spec.Template.Spec, func(ref secretref.Ref) bool {
		if _, ok := family.ParseIn(fam, ref.Name); ok {
			ref.Set(it.To)
		}
		return true
	})
	if _, err := deps.Create(ctx, green, metav1.CreateOptions{FieldManager: repoint.FieldManager}); err != nil {
		return 0, fmt.Errorf("creating green copy %s: %w", name, err)
	}
	r.emit(it.Consumer.String(), "created green copy %s on %s", name, it.To)
	return total, nil
}

// removeLeftoverGreen undoes the blue-green state a killed run left on a Deployment
// that already names its target: blue back to full size, green deleted.
func (r *Runner) removeLeftoverGreen(ctx context.Context, it Item) error {
	green, err := r.Client.AppsV1().Deployments(it.Consumer.Namespace).Get(ctx, GreenName(it.Consumer.Name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(green.Annotations[AnnotationBlueReplicas]); err == nil {
		if err := r.scale(ctx, it.Consumer.Namespace, it.Consumer.Name, int32(n)); err != nil {
			return err
		}
	}
	r.emit(it.Consumer.String(), "removing green copy %s left by an interrupted run", green.Name)
	return r.deleteGreen(ctx, it.Consumer.Namespace, it.Consumer.Name)
}

// blueGreenStep scales green to its share of w percent and blue to the rest, and waits
// for both.
func (r *Runner) blueGreenStep(ctx context.Context, active []Item, totals []int32, w int, o Options) *Failure {
	var items []Item
	for i, it := range active {
		g := GreenShare(totals[i], w)
		green := it
		green.Consumer.Name = GreenName(it.Consumer.Name)
		if err := r.scale(ctx, it.Consumer.Namespace, green.Consumer.Name, g); err != nil {
			return &Failure{Object: green.Consumer.String(), Reason: err.Error()}
		}
		if err := r.scale(ctx, it.Consumer.Namespace, it.Consumer.Name, totals[i]-g); err != nil {
			return &Failure{Object: it.Consumer.String(), Reason: err.Error()}
		}
		r.emit(it.Consumer.String(), "%d%%: green %d, blue %d of %d replicas", w, g, totals[i]-g, totals[i])
		items = append(items, green)
	}
	return r.waitHealthy(ctx, items, o.timeout())
}

// blueGreenFinal re-points the original Deployments at full size and waits for them.
func (r *Runner) blueGreenFinal(ctx context.Context, fam string, active []Item, totals []int32, out *Outcome, o Options) *Failure {
	for i, it := range active {
		if err := r.scale(ctx, it.Consumer.Namespace, it.Consumer.Name, totals[i]); err != nil {
			return &Failure{Object: it.Consumer.String(), Reason: err.Error()}
		}
	}
	done, err := r.repointAll(ctx, fam, active, repoint.Options{Annotate: true})
	out.Repointed = done
	if err != nil {
		return &Failure{Reason: err.Error()}
	}
	return r.waitHealthy(ctx, active, o.timeout())
}

// abortBlueGreen returns blue to full size on its old version and deletes green.
func (r *Runner) abortBlueGreen(ctx context.Context, p *Plan, recs []*record.Record, active []Item, totals []int32, out *Outcome, o Options) (*Outcome, error) {
	ctx = context.WithoutCancel(ctx)
	r.emit("", "FAILED: %s; restoring blue and deleting green", out.Failure.Error())
	r.restore(ctx, p.Family, out.Repointed, out)
	for i, it := range active {
		if totals[i] > 0 {
			if err := r.scale(ctx, it.Consumer.Namespace, it.Consumer.Name, totals[i]); err != nil {
				out.RollbackErrors = append(out.RollbackErrors, fmt.Sprintf("%s: scaling back to %d: %v", it.Consumer, totals[i], err))
			}
		}
		if err := r.deleteGreen(ctx, it.Consumer.Namespace, it.Consumer.Name); err != nil {
			out.RollbackErrors = append(out.RollbackErrors, fmt.Sprintf("%s: deleting its green copy: %v", it.Consumer, err))
		}
		r.emit(it.Consumer.String(), "blue back to %d replicas, green deleted", totals[i])
	}
	phase := record.RolledBack
	if len(out.RollbackErrors) > 0 {
		phase = record.Failed
	}
	r.finish(ctx, recs, phase, out.Failure.Error())
	return out, fmt.Errorf("%w: %s", ErrFailed, out.Failure.Error())
}

func (r *Runner) scale(ctx context.Context, ns, name string, replicas int32) error {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	_, err := r.Client.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: repoint.FieldManager})
	return err
}

// deleteGreen deletes the green copy with its ReplicaSets and pods (foreground) and
// waits, by watch, until it is gone, so that afterwards only blue pods remain.
func (r *Runner) deleteGreen(ctx context.Context, ns, blue string) error {
	deps := r.Client.AppsV1().Deployments(ns)
	name := GreenName(blue)
	w, err := deps.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		return err
	}
	defer w.Stop()
	err = deps.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("green copy %s is still being deleted: %w", name, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				if _, err := deps.Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("watch of green copy %s ended before it was deleted", name)
			}
			if ev.Type == watch.Deleted {
				return nil
			}
		}
	}
}

func copyWith(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

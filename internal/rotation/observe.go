package rotation

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/rollout"
)

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// observe reads what Decide needs: each consumer's versions, size and health, the
// green copies, which versions exist, and the gate job of the current step.
func (e *Engine) observe(ctx context.Context, rot *v1alpha1.SecretRotation) (Observation, error) {
	return e.observeSeen(ctx, rot, seen{})
}

// observeSeen is observe taking what the step has already read (s) instead of reading
// it again.
func (e *Engine) observeSeen(ctx context.Context, rot *v1alpha1.SecretRotation, s seen) (Observation, error) {
	o := Observation{Now: e.Clock.Now(), HasGates: rot.Spec.Analysis != nil && e.Gates != nil, HasPostGates: HasPostGates(rot) && e.Gates != nil}
	o.Window = windowState(rot, o.Now)
	st := &rot.Status
	if !st.Planned {
		return o, nil
	}
	forward := st.Phase != v1alpha1.RollingBack
	o.Consumers = make([]ObservedConsumer, len(st.Consumers))
	o.Green = make([]ObservedGreen, len(st.Green))
	versions := map[string]bool{}
	// Consumers, green copies and versions are read side by side (each a get or a
	// list, and the pods of those that name their target): a step's look at a dozen
	// consumers costs a couple of round trips, not a dozen.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(rollout.ReadWidth)
	pods := e.podsFor(rot, forward)
	for i, c := range st.Consumers {
		if c.Skip {
			continue
		}
		versions[c.To] = true
		if c.From != "" {
			versions[c.From] = true
		}
		g.Go(func() error {
			oc, err := e.observeConsumer(gctx, rot, c, forward, s.object(c), pods)
			o.Consumers[i] = oc
			return err
		})
	}
	for j, gr := range st.Green {
		g.Go(func() error {
			og, err := e.observeGreen(gctx, rot, gr, forward, pods)
			o.Green[j] = og
			return err
		})
	}
	var mu sync.Mutex
	o.Missing = map[string]bool{}
	for v := range versions {
		if s.versions[v] {
			continue
		}
		g.Go(func() error {
			found, err := e.versionExists(gctx, rot.Namespace, v)
			if err != nil {
				return fmt.Errorf("checking that version %s exists in namespace %q: %w", v, rot.Namespace, err)
			}
			if !found {
				mu.Lock()
				o.Missing[v] = true
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return o, err
	}
	o.Gate = e.gates.state(rot)
	return o, nil
}

// versionExists reports whether the Secret named v exists in namespace: a list by name,
// not a get, so it needs no permission to read Secret values (deploy/rbac grants list on
// Secrets, never get).
func (e *Engine) versionExists(ctx context.Context, namespace, v string) (bool, error) {
	var found bool
	err := e.Retry.Do(ctx, func(ctx context.Context) error {
		l, err := e.Metadata.Resource(secretsGVR).Namespace(namespace).List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", v).String()})
		if err == nil {
			found = len(l.Items) > 0
		}
		return err
	})
	return found, err
}

// observeConsumer looks at consumer c: obj as the step read it already, or (nil) as
// read now.
func (e *Engine) observeConsumer(ctx context.Context, rot *v1alpha1.SecretRotation, c v1alpha1.ConsumerStatus, forward bool, obj *unstructured.Unstructured, pods *lookPods) (ObservedConsumer, error) {
	var oc ObservedConsumer
	t := repoint.Target{Kind: c.Kind, Namespace: rot.Namespace, Name: c.Name}
	var err error
	if obj == nil {
		err = e.Retry.Do(ctx, func(ctx context.Context) error {
			var err error
			obj, err = e.Repointer.Get(ctx, t)
			return err
		})
	}
	switch {
	case apierrors.IsNotFound(err):
		oc.Gone = true
		return oc, nil
	case err != nil:
		return oc, fmt.Errorf("reading %s: %w", t, err)
	case c.UID != "" && string(obj.GetUID()) != c.UID:
		oc.Gone = true
		return oc, nil
	}
	oc.object = obj
	oc.Versions = versionsNamed(obj, rot.Spec.Family, rot.Spec.Adopt)
	if c.Kind == "Deployment" {
		n, found, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
		if !found {
			n = 1
		}
		oc.Replicas = int32(n)
	}
	if !c.Rolls || !forward {
		return oc, nil
	}
	state, selector, err := e.judge(ctx, rot, c, obj)
	if err != nil {
		return oc, err
	}
	oc.Health = state
	if selector != nil && oc.At(c.To) {
		oc.Problem, err = pods.problem(ctx, selector, c.To)
	}
	return oc, err
}

func (e *Engine) observeGreen(ctx context.Context, rot *v1alpha1.SecretRotation, g v1alpha1.GreenStatus, forward bool, pods *lookPods) (ObservedGreen, error) {
	var og ObservedGreen
	var d *appsv1.Deployment
	err := e.Retry.Do(ctx, func(ctx context.Context) error {
		var err error
		d, err = e.Client.AppsV1().Deployments(rot.Namespace).Get(ctx, g.Name, metav1.GetOptions{})
		return err
	})
	switch {
	case apierrors.IsNotFound(err):
		return og, nil
	case err != nil:
		return og, fmt.Errorf("reading green copy %s: %w", g.Name, err)
	}
	og.Exists, og.Deleting, og.Replicas = true, d.DeletionTimestamp != nil, ptr.Deref(d.Spec.Replicas, 1)
	if !forward || og.Deleting {
		return og, nil
	}
	og.Health = kinds.DeploymentState(d)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return og, err
	}
	og.Problem, err = pods.problem(ctx, sel, targetOf(rot, g.Of))
	return og, err
}

func targetOf(rot *v1alpha1.SecretRotation, blue string) string {
	for _, c := range rot.Status.Consumers {
		if c.Kind == "Deployment" && c.Name == blue {
			return c.To
		}
	}
	return rot.Status.TargetVersion
}

// judge is a consumer's rollout state and pod selector, by its kind's judge in the
// registry: its own, or that of the object it is judged by (an Argo Rollout whose
// workloadRef takes its template from the consumer).
func (e *Engine) judge(ctx context.Context, rot *v1alpha1.SecretRotation, c v1alpha1.ConsumerStatus, obj *unstructured.Unstructured) (kinds.State, labels.Selector, error) {
	target, opts := obj, kinds.JudgeOptions{}
	if j := c.Judge; j != nil {
		t := repoint.Target{Kind: j.Kind, Namespace: rot.Namespace, Name: j.Name}
		err := e.Retry.Do(ctx, func(ctx context.Context) error {
			var err error
			target, err = e.Repointer.Get(ctx, t)
			return err
		})
		if err != nil {
			return kinds.State{}, nil, fmt.Errorf("reading %s, which judges %s/%s: %w", t, c.Kind, c.Name, err)
		}
		opts.TemplateGeneration = obj.GetGeneration()
	}
	k := kinds.Lookup(target.GetKind())
	if k == nil || k.Judge == nil {
		return kinds.State{Done: true, Message: "takes its version at once"}, nil, nil
	}
	st := k.Judge(target, opts)
	if j := c.Judge; j != nil {
		st.Message = j.Kind + "/" + j.Name + " " + st.Message // the state is that object's
	}
	if k.Pods == nil {
		return st, nil, nil
	}
	sel, err := k.Pods(target)
	return st, sel, err
}

// versionsNamed are the versions of fam an object names, distinct, in order; with
// unversioned (an adoption) the unversioned Secret fam counts as one.
func versionsNamed(obj *unstructured.Unstructured, fam string, unversioned bool) []string {
	res := repoint.PlanNames(obj, fam, "", unversioned)
	seen := map[string]bool{}
	var out []string
	for _, ch := range res.Changes {
		if !seen[ch.From] {
			seen[ch.From] = true
			out = append(out, ch.From)
		}
	}
	return out
}

// Package rollout moves the consumers of a Secret family from one version to another:
// it plans (who names which version, what changes, what would break), re-points
// (rolling: every consumer at once through its own rolling update; bluegreen: a green
// copy of each Deployment scaled up in steps), gates each step (Kubernetes health and
// any further gate, such as metric analysis), rolls back automatically on failure, and
// records every rotation. One rotation per family and namespace runs at a time (a
// Lease). Every step is idempotent: a run killed at any point and run again converges,
// and no consumer is ever pointed at a Secret that does not exist.
//
// The package never prints: it reports progress through Options.Progress.
package rollout

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/managedby"
	"github.com/rotor-project/rotor/internal/repoint"
)

// Latest asks for the newest version of the family in each consumer's namespace.
const Latest = "latest"

// Consumer is a live object that names a version of the family.
type Consumer struct {
	repoint.Target
	Labels map[string]string
	// Immutable is set for a consumer whose references cannot change (a running Job, a
	// Pod no controller owns, a StorageClass): reported with Note, never patched.
	Immutable bool
	// Note says why an immutable consumer cannot change and what to do.
	Note string
	// Judged, when set, is the object whose rollout shows this consumer's re-point:
	// the Argo Rollout whose workloadRef takes its pod template from this Deployment.
	Judged *repoint.Target
	// ManagedBy is the tool that owns the consumer's desired state (Argo CD, Flux,
	// Helm), read from the live object while planning; nil when none.
	ManagedBy *managedby.Owner
}

// Health is the object to wait for after re-pointing the consumer.
func (c Consumer) Health() repoint.Target {
	if c.Judged != nil {
		return *c.Judged
	}
	return c.Target
}

// ConsumerFinder finds the live consumers of any version of a family.
type ConsumerFinder interface {
	Consumers(ctx context.Context, namespace, fam string) ([]Consumer, error)
}

// Request is what the user asked for.
type Request struct {
	Family string
	// Namespace scopes the rotation; "" is every namespace.
	Namespace string
	// To is a version name, or Latest. For a rollback it may be empty: each consumer
	// goes back to the version recorded on it by the last rotation.
	To string
	// Back marks a rollback.
	Back bool
	// Selector narrows consumers by their labels; nil selects all.
	Selector labels.Selector
	// Workloads narrows consumers to these kind/name pairs; empty selects all.
	Workloads []repoint.Target
	// AllowDrift re-points consumers another tool manages (Argo CD, Flux, Helm), which
	// that tool will revert; without it such consumers refuse the rotation.
	AllowDrift bool
}

// Item is the plan for one consumer.
type Item struct {
	Consumer Consumer
	To       string
	Changes  []repoint.Change
	// Note explains a consumer that changes differently: at its next run, not at all.
	Note string
	// Skip is set for consumers that are reported but not patched.
	Skip bool
	// Rolls is set for kinds that roll pods out (and are waited on).
	Rolls bool
	// UID is the consumer's UID when planned; Annotation its previous-version
	// annotation then ("" when none); Current the version it named then.
	UID        string
	Annotation string
	Current    string
	// Drift is set when the consumer is managed by another tool and re-pointed anyway
	// (Request.AllowDrift): what the owner is, for the record.
	Drift string
}

// Plan is what a rotation will do.
type Plan struct {
	Family string
	Items  []Item
}

// Namespaces are the namespaces the plan touches, sorted.
func (p *Plan) Namespaces() []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range p.Items {
		if !seen[it.Consumer.Namespace] {
			seen[it.Consumer.Namespace] = true
			out = append(out, it.Consumer.Namespace)
		}
	}
	sort.Strings(out)
	return out
}

// Active are the items that will be patched.
func (p *Plan) Active() []Item {
	var out []Item
	for _, it := range p.Items {
		if !it.Skip && len(it.Changes) > 0 {
			out = append(out, it)
		}
	}
	return out
}

// Planner builds plans.
type Planner struct {
	Client    kubernetes.Interface
	Dynamic   dynamic.Interface
	Finder    ConsumerFinder
	Repointer *repoint.Repointer
	// Versions resolves "latest" in a namespace: the newest version's name.
	Latest func(ctx context.Context, namespace, fam string) (string, error)
}

// PlanError lists every reason a rotation is refused; nothing was changed.
type PlanError struct {
	Problems []string
}

func (e *PlanError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return "the rotation is refused, nothing was changed:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Plan finds the consumers in scope and works out every change, refusing (with a
// *PlanError, nothing changed) when the target version does not exist, is not a version
// of the family, lives in another namespace than a consumer, lacks a key a consumer
// requires, or when nothing in scope consumes the family.
func (pl *Planner) Plan(ctx context.Context, req Request) (*Plan, error) {
	if err := family.ValidateFamily(req.Family); err != nil {
		return nil, err
	}
	if req.To != Latest && (req.To != "" || !req.Back) {
		if _, ok := family.ParseIn(req.Family, req.To); !ok {
			return nil, &PlanError{Problems: []string{fmt.Sprintf("%q is not a version of %q: a version is named %s-YYYYMMDDHHMMSS; list them with: versions %s", req.To, req.Family, req.Family, req.Family)}}
		}
	}
	consumers, err := pl.Finder.Consumers(ctx, req.Namespace, req.Family)
	if err != nil {
		return nil, err
	}
	consumers, err = pl.inScope(ctx, consumers, req)
	if err != nil {
		return nil, err
	}
	if len(consumers) == 0 {
		where := fmt.Sprintf("namespace %q", req.Namespace)
		if req.Namespace == "" {
			where = "any namespace"
		}
		return nil, &PlanError{Problems: []string{fmt.Sprintf("no consumers of %q in %s%s: nothing names any of its versions; check -n, -l and --workload, or find references with: refs --family %s -A",
			req.Family, where, scopeNote(req), req.Family)}}
	}
	plan := &Plan{Family: req.Family}
	var problems []string
	targets := map[string]*corev1.Secret{} // namespace/name → Secret (nil: missing)
	for _, c := range consumers {
		to := req.To
		if to == "" && req.Back && !c.Immutable {
			obj, err := pl.Repointer.Get(ctx, c.Target)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", c.Target, err)
			}
			if to = obj.GetAnnotations()[repoint.AnnotationKey(req.Family)]; to == "" {
				problems = append(problems, fmt.Sprintf("%s has no recorded previous version of %q (annotation %s): name one with --to VERSION",
					c.Target, req.Family, repoint.AnnotationKey(req.Family)))
				continue
			}
		}
		if to == Latest {
			latest, err := pl.Latest(ctx, c.Namespace, req.Family)
			if err != nil {
				return nil, err
			}
			if latest == "" {
				problems = append(problems, fmt.Sprintf("%s in namespace %q: no version of %q exists there to roll out", c.Target, c.Namespace, req.Family))
				continue
			}
			to = latest
		}
		key := c.Namespace + "/" + to
		secret, seen := targets[key]
		if !seen {
			s, err := pl.Client.CoreV1().Secrets(c.Namespace).Get(ctx, to, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				s = nil
			case err != nil:
				return nil, fmt.Errorf("reading the target version %s in namespace %q: %w", to, c.Namespace, err)
			}
			targets[key], secret = s, s
		}
		if secret == nil {
			if req.Back {
				problems = append(problems, fmt.Sprintf("%s: cannot roll back to %s: it no longer exists in namespace %q (deleted?); choose a version that exists with --to (list them with: versions %s -n %s)",
					c.Target, to, c.Namespace, req.Family, c.Namespace))
			} else {
				problems = append(problems, fmt.Sprintf("%s in namespace %q: version %s does not exist there (a consumer can only use a Secret of its own namespace); create it there first",
					c.Target, c.Namespace, to))
			}
			continue
		}
		item, err := pl.item(ctx, c, req.Family, to)
		if err != nil {
			return nil, err
		}
		if o := item.Consumer.ManagedBy; o != nil && !item.Skip && len(item.Changes) > 0 {
			if !req.AllowDrift {
				problems = append(problems, fmt.Sprintf("%s in namespace %q is managed by %s: %s",
					c.Target, c.Namespace, o, o.Remedy("--allow-drift")))
				continue
			}
			item.Drift = o.String()
			item.Note = joinNote(item.Note, "managed by "+o.String()+": re-pointed live (--allow-drift), it will revert this unless its source changes")
		}
		for _, ch := range item.Changes {
			for _, k := range ch.Keys {
				if _, ok := secret.Data[k]; !ok && !ch.Optional {
					problems = append(problems, fmt.Sprintf("%s needs key %q at %s, and %s has no such key (it has: %s)",
						c.Target, k, ch.Path, to, strings.Join(keysOf(secret), ", ")))
				}
			}
		}
		plan.Items = append(plan.Items, item)
	}
	if len(problems) > 0 {
		return nil, &PlanError{Problems: problems}
	}
	sort.SliceStable(plan.Items, func(i, j int) bool {
		a, b := plan.Items[i].Consumer, plan.Items[j].Consumer
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return plan, nil
}

func (pl *Planner) item(ctx context.Context, c Consumer, fam, to string) (Item, error) {
	item := Item{Consumer: c, To: to}
	if c.Immutable {
		item.Skip, item.Note = true, c.Note
		return item, nil
	}
	obj, err := pl.Repointer.Get(ctx, c.Target)
	if err != nil {
		return item, fmt.Errorf("reading %s: %w", c.Target, err)
	}
	item.Consumer.Labels = obj.GetLabels()
	item.Consumer.ManagedBy = managedby.Detect(obj.GetLabels(), obj.GetAnnotations())
	res := repoint.Plan(obj, fam, to)
	item.Changes = res.Changes
	item.UID, item.Annotation, item.Current = string(obj.GetUID()), res.Recorded, res.Previous
	if res.Unchanged() {
		item.Current = to
	}
	if k := kinds.Lookup(c.Kind); k != nil {
		item.Rolls = k.Rolls || c.Judged != nil
		if !item.Rolls {
			item.Note = k.Effect
		}
	}
	if c.Judged != nil {
		item.Note = "judged by " + c.Judged.String() + ", which takes its pod template from it"
	}
	if res.Unchanged() {
		item.Note = "already on " + to
	}
	return item, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// inScope keeps the consumers that match --workload and -l; labels are read from the
// objects themselves.
func (pl *Planner) inScope(ctx context.Context, cs []Consumer, req Request) ([]Consumer, error) {
	var out []Consumer
	for _, c := range cs {
		if len(req.Workloads) > 0 && !containsTarget(req.Workloads, c.Target) {
			continue
		}
		if req.Selector != nil && !req.Selector.Empty() {
			if c.Labels == nil {
				k := kinds.Lookup(c.Kind)
				if k == nil {
					return nil, fmt.Errorf("reading %s: rotor does not know the kind %s", c.Target, c.Kind)
				}
				obj, err := pl.Dynamic.Resource(k.GVR()).Namespace(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
				if err != nil {
					return nil, fmt.Errorf("reading %s: %w", c.Target, err)
				}
				c.Labels = obj.GetLabels()
			}
			if !req.Selector.Matches(labels.Set(c.Labels)) {
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func containsTarget(ts []repoint.Target, t repoint.Target) bool {
	for _, w := range ts {
		if strings.EqualFold(w.Kind, t.Kind) && w.Name == t.Name && (w.Namespace == "" || w.Namespace == t.Namespace) {
			return true
		}
	}
	return false
}

func scopeNote(req Request) string {
	var parts []string
	if req.Selector != nil && !req.Selector.Empty() {
		parts = append(parts, "selector "+req.Selector.String())
	}
	for _, w := range req.Workloads {
		parts = append(parts, "workload "+w.String())
	}
	if len(parts) == 0 {
		return ""
	}
	return " matching " + strings.Join(parts, ", ")
}

func keysOf(s *corev1.Secret) []string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

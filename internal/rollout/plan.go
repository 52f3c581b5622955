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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/repoint"
)

// Latest asks for the newest version of the family in each consumer's namespace.
const Latest = "latest"

// Consumer is a live object that names a version of the family.
type Consumer struct {
	repoint.Target
	Labels map[string]string
	// Running is set for a Job that has not finished: its pod template is immutable.
	Running bool
	// Bare is set for a Pod no controller owns: its spec is immutable.
	Bare bool
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
	// Target describes a target version in a namespace: its data keys, and whether it
	// may be rolled out to (refused names the reason); exists is false when there is no
	// such Secret. Nil reads the Secret with Client.
	Target func(ctx context.Context, namespace, fam, name string) (t TargetInfo, exists bool, err error)
}

// TargetInfo is what a plan needs to know of a target version: never its values.
type TargetInfo struct {
	Keys []string
	// Refused says why a rollout may not move consumers to it ("" when it may); a
	// rollback may (it returns to what consumers ran before).
	Refused string
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
	targets := map[string]*TargetInfo{} // namespace/name → target (nil: missing)
	for _, c := range consumers {
		to := req.To
		if to == "" && req.Back && !c.Bare && !c.Running {
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
			info, exists, err := pl.target(ctx, c.Namespace, req.Family, to)
			if err != nil {
				return nil, fmt.Errorf("reading the target version %s in namespace %q: %w", to, c.Namespace, err)
			}
			secret = nil
			if exists {
				secret = &info
			}
			targets[key] = secret
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
		if secret.Refused != "" && !req.Back {
			if !seen {
				problems = append(problems, fmt.Sprintf("%s in namespace %q: %s", to, c.Namespace, secret.Refused))
			}
			continue
		}
		item, err := pl.item(ctx, c, req.Family, to)
		if err != nil {
			return nil, err
		}
		for _, ch := range item.Changes {
			for _, k := range ch.Keys {
				if !contains(secret.Keys, k) && !ch.Optional {
					problems = append(problems, fmt.Sprintf("%s needs key %q at %s, and %s has no such key (it has: %s)",
						c.Target, k, ch.Path, to, strings.Join(secret.Keys, ", ")))
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
	switch {
	case c.Bare:
		item.Skip, item.Note = true, "a Pod without a controller cannot be re-pointed (its spec is immutable): recreate it"
		return item, nil
	case c.Running:
		item.Skip, item.Note = true, "a running Job's pod template is immutable: it keeps the old version until it finishes"
		return item, nil
	}
	obj, err := pl.Repointer.Get(ctx, c.Target)
	if err != nil {
		return item, fmt.Errorf("reading %s: %w", c.Target, err)
	}
	res := repoint.Plan(obj, fam, to)
	item.Changes = res.Changes
	switch c.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "Rollout":
		item.Rolls = true
	case "CronJob":
		item.Note = "takes effect at its next run"
	case "ServiceAccount", "Ingress":
		item.Note = "takes effect at once"
	}
	if res.Unchanged() {
		item.Note = "already on " + to
	}
	return item, nil
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
				obj, err := pl.Dynamic.Resource(readResources[c.Kind]).Namespace(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
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

func (pl *Planner) target(ctx context.Context, ns, fam, name string) (TargetInfo, bool, error) {
	if pl.Target != nil {
		return pl.Target(ctx, ns, fam, name)
	}
	s, err := pl.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return TargetInfo{}, false, nil
	case err != nil:
		return TargetInfo{}, false, err
	}
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return TargetInfo{Keys: keys}, true, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Package rollout plans a rotation of a Secret family: who names which version (the
// consumers, found by the reference engine), what changes in each (the exact references),
// and what would break (a target that does not exist, is not a version of the family,
// lives in another namespace, or lacks a key a consumer requires). It also reads the
// mixed state of the consumers (status), refuses blue-green rotations an autoscaler
// would undo, and names the green copies of a blue-green rotation. Carrying a plan out
// is internal/rotation's job, one journaled step at a time.
//
// The package never prints.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	// GitOps marks a rotation through git: it changes the source the GitOps engine
	// applies, so consumers Argo CD or Flux manage are what it moves, not drift.
	GitOps bool
	// Unversioned also moves consumers of the unversioned Secret named exactly Family
	// (adoption: the first version replaces it). The Finder must implement
	// UnversionedFinder.
	Unversioned bool
	// KeepObjects keeps each consumer in its item as the plan read it (Item.Object), for
	// a caller that looks at them next; a plan of many namespaces keeps none by default.
	KeepObjects bool
}

// UnversionedFinder is a ConsumerFinder that can also find the consumers of the
// unversioned Secret named like the family.
type UnversionedFinder interface {
	ConsumersWithUnversioned(ctx context.Context, namespace, fam string) ([]Consumer, error)
}

// Item is the plan for one consumer.
type Item struct {
	Consumer Consumer
	To       string
	Changes  []repoint.Change
	// Object is the consumer as the plan read it, when the request keeps objects (nil
	// for those it does not read): the engine's first look at a rotation it planned
	// starts from it.
	Object *unstructured.Unstructured
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
		// Cluster-scoped consumers and those only reported take no lock or record.
		if it.Skip || it.Consumer.Namespace == "" {
			continue
		}
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
	// Untrusted marks a target refused because rotor neither created nor adopted it.
	Untrusted bool
}

// PlanError lists every reason a rotation is refused; nothing was changed.
type PlanError struct {
	Problems []string
	// Untrusted is set when a target is a Secret rotor neither created nor adopted: the
	// caller can say how to adopt one.
	Untrusted bool
	// Managed is set when a consumer another tool manages is among the reasons: the
	// caller may say how to allow the drift.
	Managed bool
	// GitOpsManaged is set when such a consumer is Flux's or Argo CD's: the caller may
	// say how to rotate it through git.
	GitOpsManaged bool
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
	var consumers []Consumer
	var err error
	if req.Unversioned {
		uf, ok := pl.Finder.(UnversionedFinder)
		if !ok {
			return nil, fmt.Errorf("this consumer finder cannot find the consumers of the unversioned Secret %q", req.Family)
		}
		consumers, err = uf.ConsumersWithUnversioned(ctx, req.Namespace, req.Family)
	} else {
		consumers, err = pl.Finder.Consumers(ctx, req.Namespace, req.Family)
	}
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
		what := "nothing names any of its versions"
		if req.Unversioned {
			what = fmt.Sprintf("nothing names the Secret %s or any of its versions", req.Family)
		}
		return nil, &PlanError{Problems: []string{fmt.Sprintf("no consumers of %q in %s%s: %s; check the namespace and the selection of consumers, or find references with: refs --family %s -A",
			req.Family, where, scopeNote(req), what, req.Family)}}
	}
	plan := &Plan{Family: req.Family}
	var problems []string
	targets := map[string]*TargetInfo{} // namespace/name → target (nil: missing)
	latestIn := map[string]string{}     // namespace → its latest version ("" none)
	untrusted := false
	managed, gitopsManaged := false, false
	objs, tr := pl.readBeside(ctx, consumers, req)
	if tr != nil && tr.resolved {
		latestIn[req.Namespace] = tr.latest
	}
	for i, c := range consumers {
		to := req.To
		if c.Immutable {
			// Reported with what to do, never patched: no target to check.
			item, err := pl.item(c, objs[i], req, to)
			if err != nil {
				return nil, err
			}
			plan.Items = append(plan.Items, item)
			continue
		}
		// A cluster-scoped consumer (a ClusterAnalysisTemplate) resolves its Secret in
		// the namespace that uses it: the rotation's.
		secretNS := c.Namespace
		if secretNS == "" {
			if secretNS = req.Namespace; secretNS == "" {
				problems = append(problems, fmt.Sprintf("%s is cluster-scoped and names its Secret in every namespace that uses it: rotate it with -n NAMESPACE, where the new version exists", c.Target))
				continue
			}
		}
		if to == "" && req.Back {
			obj, err := objs[i].obj, objs[i].err
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", c.Target, err)
			}
			if to = obj.GetAnnotations()[repoint.AnnotationKey(req.Family)]; to == "" {
				problems = append(problems, fmt.Sprintf("%s has no recorded previous version of %q (annotation %s): name the version to return to",
					c.Target, req.Family, repoint.AnnotationKey(req.Family)))
				continue
			}
		}
		if to == Latest {
			latest, ok := latestIn[secretNS]
			if !ok {
				var err error
				if latest, err = pl.Latest(ctx, secretNS, req.Family); err != nil {
					return nil, err
				}
				latestIn[secretNS] = latest
			}
			if latest == "" {
				problems = append(problems, fmt.Sprintf("%s in namespace %q: no version of %q exists there to roll out", c.Target, secretNS, req.Family))
				continue
			}
			to = latest
		}
		key := secretNS + "/" + to
		secret, seen := targets[key]
		if !seen {
			info, exists, ok := tr.target(req, secretNS, to)
			var err error
			if !ok {
				info, exists, err = pl.target(ctx, secretNS, req.Family, to)
			}
			if err != nil {
				return nil, fmt.Errorf("reading the target version %s in namespace %q: %w", to, secretNS, err)
			}
			secret = nil
			if exists {
				secret = &info
			}
			targets[key] = secret
		}
		if secret == nil {
			if req.Back {
				problems = append(problems, fmt.Sprintf("%s: cannot roll back to %s: it no longer exists in namespace %q (deleted?); choose a version that exists (list them with: versions %s -n %s)",
					c.Target, to, secretNS, req.Family, secretNS))
			} else {
				problems = append(problems, fmt.Sprintf("%s in namespace %q: version %s does not exist there (a consumer can only use a Secret of its own namespace); create it there first",
					c.Target, secretNS, to))
			}
			continue
		}
		if secret.Refused != "" && !req.Back {
			if !seen {
				problems = append(problems, fmt.Sprintf("%s in namespace %q: %s", to, secretNS, secret.Refused))
				untrusted = untrusted || secret.Untrusted
			}
			continue
		}
		item, err := pl.item(c, objs[i], req, to)
		if apierrors.IsNotFound(err) || errors.Is(err, errGone) {
			continue // deleted since the references were read (a green copy going away): no longer a consumer
		}
		if err != nil {
			return nil, err
		}
		if o := item.Consumer.ManagedBy; o != nil && !item.Skip && len(item.Changes) > 0 && !req.GitOps {
			if !req.AllowDrift {
				problems = append(problems, fmt.Sprintf("%s in namespace %q is managed by %s: %s",
					c.Target, c.Namespace, o, o.Remedy()))
				managed = true
				gitopsManaged = gitopsManaged || o.Tool == managedby.Flux || o.Tool == managedby.ArgoCD
				continue
			}
			item.Drift = o.String()
			item.Note = joinNote(item.Note, "managed by "+o.String()+": re-pointed live (drift allowed), it will revert this unless its source changes")
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
		return nil, &PlanError{Problems: problems, Untrusted: untrusted, Managed: managed, GitOpsManaged: gitopsManaged}
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

// errGone marks a consumer being deleted: no longer one to re-point.
var errGone = errors.New("being deleted")

func (pl *Planner) item(c Consumer, read readResult, req Request, to string) (Item, error) {
	fam := req.Family
	item := Item{Consumer: c, To: to}
	if c.Immutable {
		item.Skip, item.Note = true, c.Note
		return item, nil
	}
	if c.Namespace == "" {
		// A rotation is journaled, locked and rolled back per namespace; an object of
		// no namespace (a ClusterAnalysisTemplate) belongs to none of them, so it is
		// reported with what to do, never patched by a namespaced rotation.
		item.Skip, item.Note = true, "cluster-scoped: not re-pointed by a rotation, which runs per namespace; change its reference in its manifests or by hand once every namespace runs the new version"
		return item, nil
	}
	obj, err := read.obj, read.err
	if err != nil {
		return item, fmt.Errorf("reading %s: %w", c.Target, err)
	}
	if obj.GetDeletionTimestamp() != nil {
		return item, fmt.Errorf("reading %s: %w", c.Target, errGone)
	}
	if req.KeepObjects {
		item.Object = obj
	}
	item.Consumer.Labels = obj.GetLabels()
	item.Consumer.ManagedBy = managedby.Detect(obj.GetLabels(), obj.GetAnnotations())
	res := repoint.PlanNames(obj, fam, to, req.Unversioned)
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

package rollout

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/managedby"
	"github.com/rotor-project/rotor/internal/repoint"
	"github.com/rotor-project/rotor/internal/secretref"
)

// VersionPods counts the pods of a consumer that run one version.
type VersionPods struct {
	Version string `json:"version"`
	Ready   int    `json:"ready"`
	Total   int    `json:"total"`
}

// ConsumerStatus is the mixed-state view of one consumer: the version its spec names,
// and its pods grouped by the version they actually run.
type ConsumerStatus struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Spec are the versions the spec names (one, normally).
	Spec []string `json:"spec"`
	// Pods are grouped by version, the spec's version first.
	Pods    []VersionPods `json:"pods"`
	Desired int32         `json:"desired"`
	// Phase is the rollout state ("3 of 10 updated replicas", "complete").
	Phase string `json:"phase"`
	// Remaining counts pods still to restart onto the spec's version.
	Remaining int `json:"remaining"`
	// Done: every pod runs the spec's version and the rollout is complete.
	Done bool `json:"done"`
	// Note explains consumers without pods of their own (CronJob, ServiceAccount…).
	Note string `json:"note,omitempty"`
	// ManagedBy is the tool that owns the consumer (Argo CD, Flux, Helm), if any.
	ManagedBy string `json:"managedBy,omitempty"`
}

// Status is every consumer of a family.
type Status struct {
	Family    string           `json:"family"`
	Consumers []ConsumerStatus `json:"consumers"`
	// Converged: every consumer is done, all on one version.
	Converged bool `json:"converged"`
}

// StatusReader reads the mixed state of a family's consumers.
type StatusReader struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Finder  ConsumerFinder
	// Unversioned also shows the consumers of the unversioned Secret named exactly as
	// the family (an unversioned environment's, or one not adopted yet), with that name
	// as their version, when the Finder is an UnversionedFinder.
	Unversioned bool
}

// Read returns the state of every consumer of fam in namespace ("" for all).
func (s *StatusReader) Read(ctx context.Context, namespace, fam string) (*Status, error) {
	find := s.Finder.Consumers
	if uf, ok := s.Finder.(UnversionedFinder); ok && s.Unversioned {
		find = uf.ConsumersWithUnversioned
	}
	consumers, err := find(ctx, namespace, fam)
	if err != nil {
		return nil, err
	}
	st := &Status{Family: fam, Consumers: []ConsumerStatus{}}
	versions := map[string]bool{}
	allDone := true
	for _, c := range consumers {
		cs, err := s.consumer(ctx, c, fam)
		if err != nil {
			return nil, err
		}
		for _, v := range cs.Spec {
			versions[v] = true
		}
		allDone = allDone && cs.Done
		st.Consumers = append(st.Consumers, cs)
	}
	sort.Slice(st.Consumers, func(i, j int) bool {
		a, b := st.Consumers[i], st.Consumers[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	st.Converged = allDone && len(versions) <= 1
	return st, nil
}

func (s *StatusReader) consumer(ctx context.Context, c Consumer, fam string) (ConsumerStatus, error) {
	cs := ConsumerStatus{Kind: c.Kind, Namespace: c.Namespace, Name: c.Name, Pods: []VersionPods{}}
	k := kinds.Lookup(c.Kind)
	if k == nil || c.Immutable {
		return specOnly(c, k, cs), nil
	}
	obj, err := s.Dynamic.Resource(k.GVR()).Namespace(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
	if err != nil {
		return cs, err
	}
	if o := managedby.Detect(obj.GetLabels(), obj.GetAnnotations()); o != nil {
		cs.ManagedBy = o.String()
	}
	seen := map[string]bool{}
	k.Walk(secretref.MapNode(obj.Object), func(r secretref.Ref) bool {
		if repoint.Names(fam, r.Name, s.Unversioned) && !seen[r.Name] {
			seen[r.Name] = true
			cs.Spec = append(cs.Spec, r.Name)
		}
		return true
	})
	// The object whose pods show the version: itself, or the Rollout judging it.
	hk, hobj := k, obj
	if c.Judged != nil {
		if hk = kinds.Lookup(c.Judged.Kind); hk == nil {
			return cs, fmt.Errorf("%s is judged by a %s, which rotor does not know", c.Target, c.Judged.Kind)
		}
		if hobj, err = s.Dynamic.Resource(hk.GVR()).Namespace(c.Judged.Namespace).Get(ctx, c.Judged.Name, metav1.GetOptions{}); err != nil {
			return cs, err
		}
		cs.Note = "pods of " + c.Judged.String() + ", which takes its pod template from it"
	}
	if !hk.Rolls || hk.Pods == nil {
		return specOnly(c, k, cs), nil
	}
	var opts kinds.JudgeOptions
	if c.Judged != nil {
		opts.TemplateGeneration = obj.GetGeneration()
	}
	state := hk.Judge(hobj, opts)
	cs.Phase, cs.Desired = state.Message, kinds.DesiredPods(hobj)
	sel, err := hk.Pods(hobj)
	if err != nil {
		return cs, err
	}
	pods, err := s.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return cs, err
	}
	// A pod belongs to the consumer through its controller: the object itself, or one
	// of its ReplicaSets (a Deployment's, a Rollout's).
	uid := string(hobj.GetUID())
	owners := map[string]bool{uid: true}
	rss, err := s.Client.AppsV1().ReplicaSets(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return cs, err
	}
	for _, rs := range rss.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && string(ref.UID) == uid {
			owners[string(rs.UID)] = true
		}
	}
	counts := map[string]*VersionPods{}
	for i := range pods.Items {
		p := &pods.Items[i]
		ref := metav1.GetControllerOf(p)
		if p.DeletionTimestamp != nil || ref == nil || !owners[string(ref.UID)] {
			continue
		}
		v := "(none)"
		secretref.PodSpec("spec", &p.Spec, func(r secretref.Ref) bool {
			if repoint.Names(fam, r.Name, s.Unversioned) {
				v = r.Name
				return false
			}
			return true
		})
		vp := counts[v]
		if vp == nil {
			vp = &VersionPods{Version: v}
			counts[v] = vp
		}
		vp.Total++
		if podReady(p) {
			vp.Ready++
		}
	}
	spec := ""
	if len(cs.Spec) > 0 {
		spec = cs.Spec[0]
	}
	if vp, ok := counts[spec]; ok {
		cs.Pods = append(cs.Pods, *vp)
		delete(counts, spec)
	}
	var rest []VersionPods
	for _, vp := range counts {
		rest = append(rest, *vp)
		cs.Remaining += vp.Total
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Version > rest[j].Version })
	cs.Pods = append(cs.Pods, rest...)
	cs.Done = state.Done && cs.Remaining == 0 && len(cs.Spec) <= 1
	return cs, nil
}

// specOnly covers consumers that have no pods of their own to count: the registry's
// Effect says when they take a version.
func specOnly(c Consumer, k *kinds.Kind, cs ConsumerStatus) ConsumerStatus {
	cs.Done, cs.Phase = true, "n/a"
	switch {
	case c.Immutable && c.Kind == "Pod":
		cs.Note, cs.Done, cs.Phase = c.Note, false, ""
	case c.Immutable:
		cs.Note = c.Note
	case k != nil:
		cs.Note = k.Effect
	}
	return cs
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// String renders a consumer's pods like "v2 7/10 ready · v1 3/10".
func (cs ConsumerStatus) String() string {
	out := ""
	for i, vp := range cs.Pods {
		if i > 0 {
			out += " · "
		}
		out += fmt.Sprintf("%s %d/%d ready", vp.Version, vp.Ready, vp.Total)
	}
	return out
}

package refindex

import (
	"maps"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/internal/due"
	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/retention"
	"github.com/rotor-project/rotor/internal/secretref"
)

// Entry is what the index keeps of an object that can name a Secret: who it is, whether
// it is live, and the versions it names. The object itself is dropped as it arrives
// (the informers' transform), so memory grows with the objects' count, not their size.
// It keeps only the metadata the index reads, not a metav1.ObjectMeta (232 bytes
// before any of its strings, ~68,000 times at the bench population's size); it is a
// metav1.Object for the informers (entry_meta.go).
type Entry struct {
	noMeta
	Name, Namespace string
	// Labels are a workload's (they select it into a rotation's scope); a Pod's are
	// not kept.
	Labels map[string]string
	// Kind is the object's kind.
	Kind string
	// Controlled is set when a controller owns the object (a Pod's ReplicaSet, a Job's
	// CronJob).
	Controlled bool
	// Live: a Pod that is not finished, a Job that has not completed; every other
	// kind is live.
	Live bool
	// Versions are the versions of any family the object names, distinct.
	Versions []family.Version
	// TemplateFrom is "Kind/name" of the object this one takes its pod template from
	// (an Argo Rollout's workloadRef), if any.
	TemplateFrom string
}

// Names reports whether the entry names a version of fam.
func (e *Entry) Names(fam string) bool {
	for _, v := range e.Versions {
		if v.Family == fam {
			return true
		}
	}
	return false
}

// GetObjectKind implements runtime.Object.
func (e *Entry) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject implements runtime.Object.
func (e *Entry) DeepCopyObject() runtime.Object {
	c := *e
	c.Labels = maps.Clone(e.Labels)
	c.Versions = append([]family.Version(nil), e.Versions...)
	return &c
}

// VersionEntry is what the index keeps of a Secret: its name, and for a version its
// family, time and the rotor annotations that carry policy. Other Secrets keep their
// name only. Values never reach the index: Secrets are watched as metadata only.
type VersionEntry struct {
	metav1.ObjectMeta
	// Version is the family and time the name encodes (zero for other Secrets).
	Version family.Version
	// ExpiresAt is the rotor.dev/expires-at annotation, when set and valid.
	ExpiresAt time.Time
	// RotateAfter is the rotor.dev/rotate-after annotation, when set and valid.
	RotateAfter time.Duration
}

// GetObjectKind implements runtime.Object.
func (v *VersionEntry) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject implements runtime.Object.
func (v *VersionEntry) DeepCopyObject() runtime.Object {
	c := *v
	c.ObjectMeta = *v.DeepCopy()
	return &c
}

// interner keeps one copy of the strings many entries repeat (namespaces, families,
// kinds), safe for the informers' concurrent transforms.
type interner struct {
	mu   sync.Mutex
	strs map[string]string
}

func (in *interner) str(s string) string {
	if s == "" {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.strs == nil {
		in.strs = map[string]string{}
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	in.strs[s] = s
	return s
}

// entry starts the entry of an object of kind: its name and namespace, its labels when
// keepLabels (a workload's labels select it into a rotation's scope; a Pod's never do),
// and whether a controller owns it.
func (in *interner) entry(m metav1.Object, kind string, keepLabels bool) *Entry {
	e := &Entry{Name: m.GetName(), Namespace: in.str(m.GetNamespace()), Kind: in.str(kind), Controlled: controlled(m)}
	if keepLabels && len(m.GetLabels()) > 0 {
		e.Labels = make(map[string]string, len(m.GetLabels()))
		for k, v := range m.GetLabels() {
			e.Labels[in.str(k)] = in.str(v)
		}
	}
	return e
}

// versions are the versions obj names, found by secretref's walker.
func (in *interner) versions(walk func(secretref.Visitor)) []family.Version {
	var out []family.Version
	walk(func(r secretref.Ref) bool {
		v, ok := family.Parse(r.Name)
		if !ok {
			return true
		}
		for _, seen := range out {
			if seen == v {
				return true
			}
		}
		v.Family = in.str(v.Family)
		out = append(out, v)
		return true
	})
	return out
}

// transformer reduces the objects of one registered kind to entries. It is
// idempotent: the informers may hand it an entry again.
func (in *interner) transformer(k *kinds.Kind) func(obj any) (any, error) {
	return func(obj any) (any, error) {
		switch o := obj.(type) {
		case *Entry:
			return o, nil
		case *unstructured.Unstructured:
			e := in.entry(o, k.Kind, !k.FromOwner)
			e.Live = true
			if k.Describe != nil {
				e.Live = !k.Describe(o).Finished
			}
			if k.TemplateFrom != nil {
				if kind, name, ok := k.TemplateFrom(o); ok {
					e.TemplateFrom = in.str(kind) + "/" + name
				}
			}
			e.Versions = in.versions(func(v secretref.Visitor) { k.Walk(secretref.MapNode(o.Object), v) })
			return e, nil
		case kinds.Object:
			e := in.entry(o, k.Kind, !k.FromOwner)
			e.Live = !k.DescribeTyped(o).Finished && o.GetDeletionTimestamp() == nil
			e.Versions = in.versions(func(v secretref.Visitor) { _ = k.VisitTyped(o, v) })
			return e, nil
		}
		return obj, nil
	}
}

func controlled(m metav1.Object) bool {
	for _, o := range m.GetOwnerReferences() {
		if o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// transformSecret turns a Secret's metadata into its VersionEntry.
func (in *interner) transformSecret(obj any) (any, error) {
	switch o := obj.(type) {
	case *VersionEntry:
		return o, nil
	case metav1.Object:
		e := &VersionEntry{ObjectMeta: metav1.ObjectMeta{Name: o.GetName(), Namespace: in.str(o.GetNamespace()),
			UID: o.GetUID(), ResourceVersion: o.GetResourceVersion(), CreationTimestamp: o.GetCreationTimestamp()}}
		v, ok := family.Parse(o.GetName())
		if !ok {
			return e, nil
		}
		v.Family = in.str(v.Family)
		e.Version = v
		a := o.GetAnnotations()
		if t, err := time.Parse(time.RFC3339, a[due.AnnotationExpiresAt]); err == nil {
			e.ExpiresAt = t
		}
		if d, err := retention.ParseDuration(a[due.AnnotationRotateAfter]); err == nil && d > 0 {
			e.RotateAfter = d
		}
		return e, nil
	}
	return obj, nil
}

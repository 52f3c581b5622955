// Package kinds is the registry of every kind of object that can name a Secret: one
// entry per kind, read by everything else. An entry says
//
//   - which API serves the kind (group, versions, resource, namespaced or not) and the
//     names users type for it (--workload deploy/web);
//   - where its references live: the path of its pod spec, if any, and the walkers of
//     package secretref for its other places (Walk visits them all, in tree form;
//     VisitTyped in typed form for the kinds listed with the typed client);
//   - how it is listed: typed (protobuf, for built-in kinds) or dynamic (JSON, for
//     CRD kinds, which have no protobuf);
//   - what a live reference means for a rotation (Repoint): re-pointed by a JSON patch,
//     immutable (reported with what to do), or not a consumer of its own (revision
//     history follows its owner); whether a re-point rolls out pods (Rolls), and when
//     it takes effect otherwise (Effect);
//   - how its rollout is judged (Judge, one status judge per kind in the manner of
//     kubectl's StatusViewer) and how its pods are selected (Pods);
//   - what the role of its references depends on (revision history, finished).
//
// # Adding a kind
//
// Add one entry to the registry in registry.go (or builtin.go for a built-in kind
// listed with the typed client): its API, aliases, PodSpec and/or a walker from
// secretref (add the walker there first if its places are new, typed and tree forms),
// Repoint and Effect, a Judge (JudgeAtOnce when a re-point takes effect without a
// rollout), Pods if it runs pods. Then add a sample object naming a Secret to the
// table in kinds_test.go: the tests fail until every registered kind has a sample its
// walker finds, a judge, aliases, and an API; and they fail when a table of kinds
// appears anywhere else in the code.
//
// The package does no I/O of its own: listing functions take the caller's client.
package kinds

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/internal/secretref"
)

// Repoint says what a live reference in an object of a kind means for a rotation.
type Repoint int

const (
	// NotAConsumer: the kind names Secrets but is not re-pointed on its own. Revision
	// history (ReplicaSet, ControllerRevision) follows its owner's template; an
	// ExternalSecret writes the Secret rather than reading it; an AnalysisRun's
	// arguments are fixed when its Rollout starts it.
	NotAConsumer Repoint = iota
	// Patch: re-pointed by one JSON patch (test + replace at each reference).
	Patch
	// Immutable: a consumer whose references cannot change (a Pod, a running Job, a
	// StorageClass): reported with Effect, which says what to do, never patched.
	Immutable
)

// History says whether an object is one entry of its owner's revision history.
type History int

// Revision histories.
const (
	NoHistory History = iota
	ReplicaSetHistory
	ControllerRevisionHistory
)

// Info is what the role of an object's references depends on.
type Info struct {
	// Finished: a completed Job, a Pod that succeeded or failed, a finished AnalysisRun.
	Finished bool
	// History and Revision: the object is an entry of its owner's revision history.
	History  History
	Revision int64
	// Active is a ReplicaSet that has or wants pods: never only a rollback target.
	Active bool
	// CurrentRevision is a Deployment's or Rollout's current revision.
	CurrentRevision int64
}

// Kind is one registry entry.
type Kind struct {
	// Kind is the object kind, e.g. "Deployment".
	Kind string
	// Group is the API group ("" for core).
	Group string
	// Versions are the API versions rotor reads, preferred first: a CRD may be served
	// at several (external-secrets.io v1 and v1beta1).
	Versions []string
	// Resource is the plural resource name.
	Resource string
	// Namespaced is false for cluster-scoped kinds (PersistentVolume, StorageClass,
	// ClusterAnalysisTemplate): they are listed cluster-wide, and their references name
	// the Secret's namespace themselves.
	Namespaced bool
	// Aliases are the lower-case names users type: singular, plural, short names.
	Aliases []string
	// PodSpec is the dotted field path of the pod spec, "" for kinds without one.
	PodSpec string
	// Repoint is what a live reference means for a rotation.
	Repoint Repoint
	// Rolls: re-pointing rolls out new pods, and a rotation waits for Judge.
	Rolls bool
	// Effect says when a re-point takes effect ("rolls out its pods", "at its next
	// run"); for Immutable kinds, why it cannot change and what to do.
	Effect string
	// Judge judges a rollout from the object, in the manner of kubectl's StatusViewer.
	Judge Judge
	// Pods returns the selector of the object's pods; nil for kinds without pods.
	Pods func(*unstructured.Unstructured) (labels.Selector, error)
	// FromOwner: an object of this kind made by an owner takes its spec from that
	// owner (a Pod of a ReplicaSet of a Deployment): its consumers are its owners.
	FromOwner bool
	// IntermediateOwner: objects of this kind own pods for an owner of their own
	// (ReplicaSet, Job); the reference engine keeps them in its owner index.
	IntermediateOwner bool
	// TemplateFrom names the object this one takes its pod template from, if any (an
	// Argo Rollout's spec.workloadRef): that object is re-pointed, and this one judged.
	TemplateFrom func(*unstructured.Unstructured) (kind, name string, ok bool)
	// Describe says what the role of the object's references depends on (dynamic
	// kinds; typed kinds describe themselves through VisitTyped's sibling).
	Describe func(*unstructured.Unstructured) Info

	// refs walks the places outside the pod spec and the annotations.
	refs secretref.Walker
	// typed, when set, lists and walks the kind with the typed (protobuf) client.
	typed *typedKind
}

// GVR is the resource at the preferred version.
func (k *Kind) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Versions[0], Resource: k.Resource}
}

// GVRs are the resource at every version rotor reads, preferred first.
func (k *Kind) GVRs() []schema.GroupVersionResource {
	out := make([]schema.GroupVersionResource, len(k.Versions))
	for i, v := range k.Versions {
		out[i] = schema.GroupVersionResource{Group: k.Group, Version: v, Resource: k.Resource}
	}
	return out
}

// APIVersion is "group/version" at the preferred version ("v1" for core).
func (k *Kind) APIVersion() string { return k.GVR().GroupVersion().String() }

// Typed reports whether the kind is listed with the typed (protobuf) client.
func (k *Kind) Typed() bool { return k.typed != nil }

// Consumer reports whether a live reference makes the object a consumer of its own
// (re-pointed, or reported as immutable).
func (k *Kind) Consumer() bool { return k.Repoint != NotAConsumer }

// Walk visits every reference of obj, an object of this kind in tree form: its pod
// spec, its other places, and the well-known annotations of its metadata and pod
// template. It returns false when the visitor stopped the walk.
func (k *Kind) Walk(obj secretref.Node, visit secretref.Visitor) bool {
	if k.PodSpec != "" && !secretref.PodSpecAt(k.PodSpec)(obj, visit) {
		return false
	}
	if k.refs != nil && !k.refs(obj, visit) {
		return false
	}
	if !secretref.AnnotationsAt("metadata")(obj, visit) {
		return false
	}
	if t := k.templateMetadata(); t != "" {
		return secretref.AnnotationsAt(t)(obj, visit)
	}
	return true
}

// templateMetadata is the path of the pod template's metadata ("" without one).
func (k *Kind) templateMetadata() string {
	if !strings.HasSuffix(k.PodSpec, ".spec") || k.PodSpec == "spec" {
		return ""
	}
	return strings.TrimSuffix(k.PodSpec, ".spec") + ".metadata"
}

// registry holds every kind, in the order they are listed and reported.
var registry = append(builtin(), custom()...)

var byKind = func() map[string]*Kind {
	m := map[string]*Kind{}
	for _, k := range registry {
		m[k.Kind] = k
	}
	return m
}()

// All returns every registered kind.
func All() []*Kind { return append([]*Kind(nil), registry...) }

// Lookup returns the kind named kind ("Deployment"), or nil.
func Lookup(kind string) *Kind { return byKind[kind] }

// Walk visits the references of obj, an object of kind. An unregistered kind (a
// ConfigMap in a manifest directory) has only its annotations walked.
func Walk(kind string, obj secretref.Node, visit secretref.Visitor) bool {
	if k := Lookup(kind); k != nil {
		return k.Walk(obj, visit)
	}
	return secretref.AnnotationsAt("metadata")(obj, visit)
}

// Resolve returns the kind a user means by name: a kind ("Deployment", any case), a
// resource ("deployments") or a short name ("deploy"). It returns nil for none.
func Resolve(name string) *Kind {
	n := strings.ToLower(name)
	for _, k := range registry {
		if strings.ToLower(k.Kind) == n {
			return k
		}
		for _, a := range k.Aliases {
			if a == n {
				return k
			}
		}
	}
	return nil
}

// ConsumerNames are the lower-case names of the kinds that can be consumers of their
// own (re-pointed or reported), sorted: what --workload accepts.
func ConsumerNames() []string {
	var out []string
	for _, k := range registry {
		if k.Consumer() {
			out = append(out, strings.ToLower(k.Kind))
		}
	}
	sort.Strings(out)
	return out
}

package refs

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/internal/secretref"
)

// customKind is a kind from a CRD that may or may not be installed.
type customKind struct {
	kind string
	// versions are tried in order; the first one the cluster serves is listed.
	versions []schema.GroupVersionResource
	gvr      schema.GroupVersionResource
}

// knownCustomKinds are the CRD kinds that can name a Secret.
var knownCustomKinds = []customKind{
	{kind: "Rollout", versions: []schema.GroupVersionResource{
		{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"},
	}},
	{kind: "ExternalSecret", versions: []schema.GroupVersionResource{
		{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"},
		{Group: "external-secrets.io", Version: "v1beta1", Resource: "externalsecrets"},
	}},
}

// customKinds are the known CRD kinds this cluster serves. Absent ones (and all of
// them without Discovery or Dynamic) are skipped without a note: not having Argo
// Rollouts installed is not a gap in the search.
func (f *Finder) customKinds(_ context.Context) []customKind {
	if f.Discovery == nil || f.Dynamic == nil {
		return nil
	}
	var out []customKind
	for _, k := range knownCustomKinds {
		for _, gvr := range k.versions {
			if served(f, gvr) {
				k.gvr = gvr
				out = append(out, k)
				break
			}
		}
	}
	return out
}

func served(f *Finder, gvr schema.GroupVersionResource) bool {
	list, err := f.Discovery.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if err != nil || list == nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource {
			return true
		}
	}
	return false
}

// scanCustom lists a CRD kind page by page (JSON: CRDs have no protobuf) and walks each
// object as a tree.
func (f *Finder) scanCustom(ctx context.Context, s *scan, k customKind) error {
	opts := metav1.ListOptions{Limit: s.limit}
	apiVersion := k.gvr.GroupVersion().String()
	for {
		l, err := f.Dynamic.Resource(k.gvr).Namespace(s.ns).List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range l.Items {
			obj := &l.Items[i]
			info := objectInfo{kind: k.kind, apiVersion: apiVersion, role: RoleLive}
			if k.kind == "Rollout" {
				info.ownerRevision = annotationRevision(obj)
			}
			s.record(obj, info, treeRefs(k.kind, obj, s.match), nil)
		}
		if l.GetContinue() == "" {
			return nil
		}
		opts.Continue = l.GetContinue()
	}
}

func treeRefs(kind string, obj *unstructured.Unstructured, m matcher) []secretref.Ref {
	var refs []secretref.Ref
	secretref.Tree(kind, secretref.MapNode(obj.Object), func(r secretref.Ref) bool {
		if m.match(r.Name) {
			refs = append(refs, r)
		}
		return true
	})
	return refs
}

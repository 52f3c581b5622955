package refs

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/rotor-project/rotor/internal/kinds"
	"github.com/rotor-project/rotor/internal/secretref"
)

// customKind is a registered CRD kind the cluster serves, at the version found.
type customKind struct {
	kind *kinds.Kind
	gvr  schema.GroupVersionResource
}

// customKinds are the registered CRD kinds this cluster serves. A kind whose API is
// not served is skipped without a note (not having Argo Rollouts installed is not a
// gap in the search); a discovery failure is a gap: the kind is reported as not
// checked, never dropped silently. Without Discovery or Dynamic no CRD kind is read,
// and each is reported as not checked.
func (f *Finder) customKinds(ctx context.Context) ([]customKind, []NotChecked) {
	var out []customKind
	var gaps []NotChecked
	for _, k := range kinds.All() {
		if k.Typed() {
			continue
		}
		if f.Discovery == nil || f.Dynamic == nil {
			gaps = append(gaps, NotChecked{Kind: k.Kind, Reason: "no API discovery: custom resources not checked"})
			continue
		}
		for _, gvr := range k.GVRs() {
			ok, err := served(ctx, f, gvr)
			if err != nil {
				// Reported; older versions are not tried as if this one were absent.
				gaps = append(gaps, NotChecked{Kind: k.Kind, Reason: fmt.Sprintf("API discovery of %s failed: %v", gvr.GroupVersion(), err)})
				break
			}
			if ok {
				out = append(out, customKind{kind: k, gvr: gvr})
				break
			}
		}
	}
	return out, gaps
}

// served reports whether the cluster serves gvr; a group version it does not serve is
// (false, nil), any other discovery failure an error.
func served(_ context.Context, f *Finder, gvr schema.GroupVersionResource) (bool, error) {
	list, err := f.Discovery.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource {
			return true, nil
		}
	}
	return false, nil
}

// scanCustom lists a CRD kind page by page (JSON: CRDs have no protobuf) and walks each
// object as a tree.
func (f *Finder) scanCustom(ctx context.Context, s *scan, ck customKind) error {
	k := ck.kind
	opts := metav1.ListOptions{Limit: firstPage}
	ns := s.ns
	if !k.Namespaced {
		ns = ""
	}
	for {
		l, err := f.Dynamic.Resource(ck.gvr).Namespace(ns).List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range l.Items {
			obj := &l.Items[i]
			var info kinds.Info
			if k.Describe != nil {
				info = k.Describe(obj)
			}
			if k.TemplateFrom != nil {
				if kind, name, ok := k.TemplateFrom(obj); ok {
					s.noteTemplateUser(kind, obj.GetNamespace(), name, ObjectRef{Kind: k.Kind, APIVersion: obj.GetAPIVersion(),
						Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID()})
				}
			}
			var refs []secretref.Ref
			k.Walk(secretref.MapNode(obj.Object), func(r secretref.Ref) bool {
				if s.match.match(r.Name) {
					refs = append(refs, r)
				}
				return true
			})
			s.record(k, obj, info, refs, nil)
		}
		if l.GetContinue() == "" {
			return nil
		}
		opts.Continue, opts.Limit = l.GetContinue(), s.limit
	}
}

func (s *scan) noteTemplateUser(kind, ns, name string, user ObjectRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templateUsers[kind+"/"+ns+"/"+name] = s.strs.objectRef(user)
}

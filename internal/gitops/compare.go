package gitops

import (
	"sort"

	"github.com/rotor-project/rotor/internal/kinds"
)

// LiveReference is a reference in a live object of the cluster (what the refs engine
// finds in a workload's current template, a ServiceAccount, an Ingress…).
type LiveReference struct {
	Object ObjectRef
	Path   string
	Secret string
}

// Disagreement is one place where the manifests and the cluster name different Secrets
// of the family.
type Disagreement struct {
	// Object is the object, its namespace resolved.
	Object ObjectRef
	Path   string
	// File and Line are the manifest's, when it has a reference there.
	File string
	Line int
	// Manifest and Cluster are the Secrets each names there; "" for none.
	Manifest string
	Cluster  string
}

// Compare matches the references of the manifests' objects (not those in kustomize
// patches, which have no object of their own) with the live references of the same
// objects, and returns every place where they differ, in file order: a manifest naming a
// version the cluster does not (not applied yet, or drift), a live object that names
// the family where the manifest names nothing, or a manifest object the cluster has no
// such reference for (not applied, or deleted). Namespaced objects without a namespace
// in the manifests are taken to be in defaultNamespace.
func Compare(s *Scan, live []LiveReference, defaultNamespace string) []Disagreement {
	type key struct {
		kind, namespace, name, path string
	}
	resolve := func(o ObjectRef) ObjectRef {
		if k := kinds.Lookup(o.Kind); o.Namespace == "" && (k == nil || k.Namespaced) {
			o.Namespace = defaultNamespace
		}
		return o
	}
	manifest := map[key]Reference{}
	objects := map[[3]string]bool{}
	for _, list := range [][]Reference{s.References, s.Unversioned} {
		for _, r := range list {
			if r.Via != "" {
				continue
			}
			o := resolve(r.Object)
			manifest[key{o.Kind, o.Namespace, o.Name, r.Path}] = r
			objects[[3]string{o.Kind, o.Namespace, o.Name}] = true
		}
	}
	cluster := map[key]string{}
	for _, l := range live {
		cluster[key{l.Object.Kind, l.Object.Namespace, l.Object.Name, l.Path}] = l.Secret
	}
	var out []Disagreement
	for k, r := range manifest {
		got, ok := cluster[k]
		if ok && got == r.Secret {
			continue
		}
		out = append(out, Disagreement{Object: resolve(r.Object), Path: r.Path, File: r.File, Line: r.Line, Manifest: r.Secret, Cluster: got})
	}
	for k, secret := range cluster {
		if _, ok := manifest[k]; ok || !objects[[3]string{k.kind, k.namespace, k.name}] {
			continue
		}
		out = append(out, Disagreement{Object: ObjectRef{Kind: k.kind, Namespace: k.namespace, Name: k.name}, Path: k.path, Cluster: secret})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Object != b.Object {
			return a.Object.String() < b.Object.String()
		}
		return a.Path < b.Path
	})
	return out
}

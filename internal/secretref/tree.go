package secretref

import (
	"strings"
)

// Node is one node of a JSON-like tree: a mapping, a sequence or a scalar. MapNode
// adapts unstructured objects; YAMLNode adapts parsed YAML documents, keeping line
// numbers and formatting.
type Node interface {
	// Get returns a mapping's value for key.
	Get(key string) (Node, bool)
	// Items returns a sequence's elements; nil for anything else.
	Items() []Node
	// Str returns a string scalar.
	Str() (string, bool)
	// Bool returns a boolean scalar.
	Bool() (bool, bool)
	// SetStr replaces the scalar in its parent.
	SetStr(string)
	// Line is the 1-based source line, 0 when unknown.
	Line() int
}

// Tree walks a JSON-like object of kind (Pod, Deployment, …, ServiceAccount, Ingress,
// ExternalSecret, Rollout). Unknown kinds have no references.
func Tree(kind string, obj Node, visit Visitor) {
	switch kind {
	case "ServiceAccount":
		treeNameList("secrets", obj, ServiceAccountSecret, visit)
		treeNameList("imagePullSecrets", obj, ImagePullSecret, visit)
	case "Ingress":
		spec, _ := obj.Get("spec")
		for i, tls := range items(spec, "tls") {
			if n, ok := str(tls, "secretName"); ok {
				if !emit(visit, Ref{Path: indexPath("spec", "tls", i) + ".secretName", Name: n, Style: IngressTLS,
					Pointer: pointer("spec", "tls", i, "secretName")}, tls, "secretName") {
					return
				}
			}
		}
	case "ExternalSecret":
		externalSecret(obj, visit)
	default:
		prefix, ok := PodSpecPrefix[kind]
		if !ok {
			return
		}
		spec, ok := digNode(obj, strings.Split(prefix, ".")...)
		if !ok {
			return
		}
		TreePodSpec(prefix, spec, visit)
	}
}

// externalSecret reports the Secret an External Secrets Operator ExternalSecret
// writes: spec.target.name, which defaults to the ExternalSecret's own name.
func externalSecret(obj Node, visit Visitor) {
	if target, ok := digNode(obj, "spec", "target"); ok {
		if n, ok := str(target, "name"); ok && n != "" {
			emit(visit, Ref{Path: "spec.target.name", Name: n, Style: ExternalSecretTarget, Pointer: "/spec/target/name"}, target, "name")
			return
		}
	}
	if meta, ok := obj.Get("metadata"); ok {
		if n, ok := str(meta, "name"); ok {
			// Not rewritable in place: the target follows the object's name.
			visit(Ref{Path: "metadata.name", Name: n, Style: ExternalSecretTarget})
		}
	}
}

func treeNameList(field string, obj Node, style Style, visit Visitor) {
	for i, it := range items(obj, field) {
		if n, ok := str(it, "name"); ok && n != "" {
			if !emit(visit, Ref{Path: indexPath("", field, i)[1:], Name: n, Style: style, Pointer: pointer("", field, i, "name")}, it, "name") {
				return
			}
		}
	}
}

// TreePodSpec walks a pod spec in a JSON-like tree whose field path is prefix.
func TreePodSpec(prefix string, spec Node, visit Visitor) bool {
	for _, field := range containerFields {
		for ci, c := range items(spec, field) {
			name, _ := str(c, "name")
			cp := containerPath(prefix, field, name)
			cptr := pointer(prefix, field, ci)
			for j, e := range items(c, "env") {
				ref, ok := digNode(e, "valueFrom", "secretKeyRef")
				if !ok {
					continue
				}
				n, ok := str(ref, "name")
				if !ok || n == "" {
					continue
				}
				envName, _ := str(e, "name")
				key, _ := str(ref, "key")
				if !emit(visit, Ref{Path: namedPath(cp, "env", envName) + ".valueFrom.secretKeyRef", Name: n,
					Style: EnvSecretKeyRef, Optional: boolean(ref, "optional"), Keys: []string{key}, Container: name,
					Pointer: cptr + pointer("", "env", j, "valueFrom", "secretKeyRef", "name")}, ref, "name") {
					return false
				}
			}
			for j, ef := range items(c, "envFrom") {
				ref, ok := ef.Get("secretRef")
				if !ok {
					continue
				}
				if n, ok := str(ref, "name"); ok && n != "" {
					if !emit(visit, Ref{Path: indexPath(cp, "envFrom", j) + ".secretRef", Name: n,
						Style: EnvFromSecretRef, Optional: boolean(ref, "optional"), Container: name,
						Pointer: cptr + pointer("", "envFrom", j, "secretRef", "name")}, ref, "name") {
						return false
					}
				}
			}
		}
	}
	for vi, v := range items(spec, "volumes") {
		vname, _ := str(v, "name")
		vp := namedPath(prefix, "volumes", vname)
		if s, ok := v.Get("secret"); ok {
			if n, ok := str(s, "secretName"); ok && n != "" {
				if !emit(visit, Ref{Path: vp + ".secret", Name: n, Style: VolumeSecret,
					Optional: boolean(s, "optional"), Keys: treeItemKeys(s),
					Pointer: pointer(prefix, "volumes", vi, "secret", "secretName")}, s, "secretName") {
					return false
				}
			}
		}
		if p, ok := v.Get("projected"); ok {
			for j, src := range items(p, "sources") {
				s, ok := src.Get("secret")
				if !ok {
					continue
				}
				if n, ok := str(s, "name"); ok && n != "" {
					if !emit(visit, Ref{Path: indexPath(vp+".projected", "sources", j) + ".secret", Name: n,
						Style: ProjectedSecret, Optional: boolean(s, "optional"), Keys: treeItemKeys(s),
						Pointer: pointer(prefix, "volumes", vi, "projected", "sources", j, "secret", "name")}, s, "name") {
						return false
					}
				}
			}
		}
	}
	for i, s := range items(spec, "imagePullSecrets") {
		if n, ok := str(s, "name"); ok && n != "" {
			if !emit(visit, Ref{Path: indexPath(prefix, "imagePullSecrets", i), Name: n, Style: ImagePullSecret,
				Pointer: pointer(prefix, "imagePullSecrets", i, "name")}, s, "name") {
				return false
			}
		}
	}
	return true
}

// emit fills in the setter (the scalar at parent.field) and the source line, and calls
// the visitor.
func emit(visit Visitor, r Ref, parent Node, field string) bool {
	if scalar, ok := parent.Get(field); ok {
		r.set = scalar.SetStr
		r.Line = scalar.Line()
	}
	return visit(r)
}

func items(n Node, field string) []Node {
	if n == nil {
		return nil
	}
	v, ok := n.Get(field)
	if !ok {
		return nil
	}
	return v.Items()
}

func str(n Node, field string) (string, bool) {
	v, ok := n.Get(field)
	if !ok {
		return "", false
	}
	return v.Str()
}

func boolean(n Node, field string) bool {
	v, ok := n.Get(field)
	if !ok {
		return false
	}
	b, _ := v.Bool()
	return b
}

func treeItemKeys(n Node) []string {
	var keys []string
	for _, it := range items(n, "items") {
		if k, ok := str(it, "key"); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func digNode(n Node, path ...string) (Node, bool) {
	for _, p := range path {
		if n == nil {
			return nil, false
		}
		next, ok := n.Get(p)
		if !ok {
			return nil, false
		}
		n = next
	}
	return n, n != nil
}

func dig(m map[string]any, path ...string) (map[string]any, bool) {
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

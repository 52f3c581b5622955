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
	// Keys returns a mapping's keys (sorted for maps, in document order for YAML); nil
	// for anything else.
	Keys() []string
	// Str returns a string scalar.
	Str() (string, bool)
	// Bool returns a boolean scalar.
	Bool() (bool, bool)
	// SetStr replaces the scalar in its parent.
	SetStr(string)
	// Line is the 1-based source line, 0 when unknown.
	Line() int
}

// Walker walks the places of one shape of object in a JSON-like tree (the whole
// object). It returns false when the visitor stopped the walk.
type Walker func(obj Node, visit Visitor) bool

// PodSpecAt walks the pod spec found at the dotted path prefix
// ("spec.template.spec").
func PodSpecAt(prefix string) Walker {
	path := strings.Split(prefix, ".")
	return func(obj Node, visit Visitor) bool {
		spec, ok := digNode(obj, path...)
		if !ok {
			return true
		}
		return TreePodSpec(prefix, spec, visit)
	}
}

// AnnotationsAt walks the well-known annotations of the metadata at the dotted path
// prefix ("metadata", "spec.template.metadata").
func AnnotationsAt(prefix string) Walker {
	path := append(strings.Split(prefix, "."), "annotations")
	return func(obj Node, visit Visitor) bool {
		ann, ok := digNode(obj, path...)
		if !ok {
			return true
		}
		for _, key := range WellKnownAnnotations {
			v, ok := ann.Get(key)
			if !ok {
				continue
			}
			s, ok := v.Str()
			if !ok {
				continue
			}
			r, ok := annotationRef(prefix, key, s)
			if !ok {
				continue
			}
			if !emit(visit, r, ann, key) {
				return false
			}
		}
		return true
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
		for _, src := range volumeSources {
			parent, ok := digNode(v, append([]string{src.field}, src.path[:len(src.path)-1]...)...)
			if !ok {
				continue
			}
			last := src.path[len(src.path)-1]
			if n, ok := str(parent, last); ok && n != "" {
				segs := append([]any{"volumes", vi, src.field}, toAny(src.path)...)
				if !emit(visit, Ref{Path: vp + "." + src.field + volumeRefSuffix(src.path), Name: n, Style: src.style,
					Pointer: pointer(prefix, segs...)}, parent, last) {
					return false
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
	if n == nil {
		return "", false
	}
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

package secretref

import (
	"go.yaml.in/yaml/v3"
)

// MapNode adapts a value of an unstructured object (map[string]any, []any, scalars).
// SetStr writes through to the containing map or slice.
func MapNode(v any) Node { return mapNode{v: v} }

type mapNode struct {
	v      any
	parent map[string]any
	key    string
	list   []any
	index  int
}

func (n mapNode) Get(key string) (Node, bool) {
	m, ok := n.v.(map[string]any)
	if !ok {
		return nil, false
	}
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false
	}
	return mapNode{v: v, parent: m, key: key}, true
}

func (n mapNode) Items() []Node {
	l, ok := n.v.([]any)
	if !ok {
		return nil
	}
	out := make([]Node, len(l))
	for i, v := range l {
		out[i] = mapNode{v: v, list: l, index: i}
	}
	return out
}

func (n mapNode) Keys() []string {
	m, ok := n.v.(map[string]any)
	if !ok {
		return nil
	}
	return sortedKeys(m)
}

func (n mapNode) Str() (string, bool) { s, ok := n.v.(string); return s, ok }

func (n mapNode) Bool() (bool, bool) { b, ok := n.v.(bool); return b, ok }

func (n mapNode) SetStr(s string) {
	switch {
	case n.parent != nil:
		n.parent[n.key] = s
	case n.list != nil:
		n.list[n.index] = s
	}
}

func (n mapNode) Line() int { return 0 }

// YAMLNode adapts a parsed YAML node (a document node is unwrapped). SetStr rewrites
// the scalar in place, so re-encoding keeps the rest of the document as it was.
func YAMLNode(n *yaml.Node) Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	return yamlNode{n: resolveAlias(n)}
}

type yamlNode struct{ n *yaml.Node }

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (y yamlNode) Get(key string) (Node, bool) {
	if y.n == nil || y.n.Kind != yaml.MappingNode {
		return nil, false
	}
	for i := 0; i+1 < len(y.n.Content); i += 2 {
		if y.n.Content[i].Value == key {
			v := resolveAlias(y.n.Content[i+1])
			if v == nil || v.Tag == "!!null" {
				return nil, false
			}
			return yamlNode{n: v}, true
		}
	}
	return nil, false
}

func (y yamlNode) Items() []Node {
	if y.n == nil || y.n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]Node, len(y.n.Content))
	for i, c := range y.n.Content {
		out[i] = yamlNode{n: resolveAlias(c)}
	}
	return out
}

func (y yamlNode) Keys() []string {
	if y.n == nil || y.n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]string, 0, len(y.n.Content)/2)
	for i := 0; i+1 < len(y.n.Content); i += 2 {
		out = append(out, y.n.Content[i].Value)
	}
	return out
}

func (y yamlNode) Str() (string, bool) {
	if y.n == nil || y.n.Kind != yaml.ScalarNode || (y.n.Tag != "!!str" && y.n.Tag != "") {
		return "", false
	}
	return y.n.Value, true
}

func (y yamlNode) Bool() (bool, bool) {
	if y.n == nil || y.n.Kind != yaml.ScalarNode || y.n.Tag != "!!bool" {
		return false, false
	}
	var b bool
	if err := y.n.Decode(&b); err != nil {
		return false, false
	}
	return b, true
}

func (y yamlNode) SetStr(s string) {
	if y.n != nil && y.n.Kind == yaml.ScalarNode {
		y.n.Value = s
		y.n.Tag = "!!str"
	}
}

func (y yamlNode) Line() int {
	if y.n == nil {
		return 0
	}
	return y.n.Line
}

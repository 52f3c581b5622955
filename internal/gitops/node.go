package gitops

import (
	"go.yaml.in/yaml/v3"

	"github.com/rotor-project/rotor/internal/secretref"
)

// maxVisits bounds how many nodes one file's walk may visit, aliases expanded: a few
// kilobytes can alias themselves into billions of nodes.
const maxVisits = 200_000

// walk is the state of walking one parsed file: the visit budget, and the scalar a
// reference's Set last reached (how a secretref.Ref is tied to its yaml.Node).
type walk struct {
	visits   int
	exceeded bool
	captured *yaml.Node
}

// node adapts a yaml.Node to secretref.Node. Unlike secretref.YAMLNode it follows merge
// keys (<<: *anchor), and SetStr does not change the node: it records which scalar the
// reference lives in, so the rewrite can splice that scalar's bytes in the source.
type node struct {
	n *yaml.Node
	w *walk
}

func (w *walk) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 64 {
			return nil
		}
		n = n.Alias
	}
	if n == nil || w.exceeded {
		return nil
	}
	if w.visits++; w.visits > maxVisits {
		w.exceeded = true
		return nil
	}
	return n
}

// documentRoot unwraps a document node.
func documentRoot(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0]
	}
	return n
}

// lookup finds key in a mapping, then in the mappings it merges.
func (w *walk) lookup(m *yaml.Node, key string, depth int) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode || depth > 16 {
		return nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, m.Content[i+1])
			continue
		}
		if k.Kind == yaml.ScalarNode && k.Value == key {
			return m.Content[i+1]
		}
	}
	for _, mg := range merges {
		mg = w.resolve(mg)
		if mg == nil {
			continue
		}
		srcs := []*yaml.Node{mg}
		if mg.Kind == yaml.SequenceNode {
			srcs = mg.Content
		}
		for _, s := range srcs {
			if v := w.lookup(w.resolve(s), key, depth+1); v != nil {
				return v
			}
		}
	}
	return nil
}

func (y node) Get(key string) (secretref.Node, bool) {
	if y.n == nil {
		return nil, false
	}
	v := y.w.resolve(y.w.lookup(y.n, key, 0))
	if v == nil || v.Tag == "!!null" {
		return nil, false
	}
	return node{n: v, w: y.w}, true
}

func (y node) Items() []secretref.Node {
	if y.n == nil || y.n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]secretref.Node, 0, len(y.n.Content))
	for _, c := range y.n.Content {
		if r := y.w.resolve(c); r != nil {
			out = append(out, node{n: r, w: y.w})
		}
	}
	return out
}

// Keys are a mapping's keys in document order, then the keys its merges add.
func (y node) Keys() []string {
	if y.n == nil || y.n.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	y.w.keys(y.n, seen, &out, 0)
	return out
}

func (w *walk) keys(m *yaml.Node, seen map[string]bool, out *[]string, depth int) {
	if m == nil || m.Kind != yaml.MappingNode || depth > 16 {
		return
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, m.Content[i+1])
			continue
		}
		if k.Kind == yaml.ScalarNode && !seen[k.Value] {
			seen[k.Value] = true
			*out = append(*out, k.Value)
		}
	}
	for _, mg := range merges {
		mg = w.resolve(mg)
		if mg == nil {
			continue
		}
		srcs := []*yaml.Node{mg}
		if mg.Kind == yaml.SequenceNode {
			srcs = mg.Content
		}
		for _, s := range srcs {
			w.keys(w.resolve(s), seen, out, depth+1)
		}
	}
}

func (y node) Str() (string, bool) {
	if y.n == nil || y.n.Kind != yaml.ScalarNode || (y.n.Tag != "!!str" && y.n.Tag != "") {
		return "", false
	}
	return y.n.Value, true
}

func (y node) Bool() (bool, bool) {
	if y.n == nil || y.n.Kind != yaml.ScalarNode || y.n.Tag != "!!bool" {
		return false, false
	}
	var b bool
	if err := y.n.Decode(&b); err != nil {
		return false, false
	}
	return b, true
}

// SetStr records the scalar; the rewrite happens on the source bytes.
func (y node) SetStr(string) {
	if y.n != nil && y.n.Kind == yaml.ScalarNode {
		y.w.captured = y.n
	}
}

func (y node) Line() int {
	if y.n == nil {
		return 0
	}
	return y.n.Line
}

// scalarOf returns the yaml.Node a reference names its Secret in, or nil when the name
// is not a field of its own (an ExternalSecret's target that follows its name).
func (w *walk) scalarOf(r secretref.Ref) *yaml.Node {
	w.captured = nil
	r.Set(r.Name)
	n := w.captured
	w.captured = nil
	return n
}

// str is a mapping's string field ("" when absent or not a string).
func (w *walk) str(m *yaml.Node, key string) string {
	v := w.resolve(w.lookup(m, key, 0))
	if v == nil || v.Kind != yaml.ScalarNode || (v.Tag != "!!str" && v.Tag != "") {
		return ""
	}
	return v.Value
}

// get is a mapping's value for key, aliases followed.
func (w *walk) get(m *yaml.Node, key string) *yaml.Node {
	return w.resolve(w.lookup(m, key, 0))
}

package boundedyaml

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// checker measures documents with aliases expanded, remembering each node's expanded
// size and depth so a shared subtree is measured once: the check costs the size of
// the file, not of its expansion.
type checker struct {
	file string
	lim  Limits
	// total is the expanded size of the documents checked so far.
	total int
	memo  map[*yaml.Node]measure
	// active are the nodes on the current path: an alias to one of them is a cycle.
	active map[*yaml.Node]bool
}

type measure struct{ nodes, depth int }

func newChecker(file string, lim Limits) *checker {
	return &checker{file: file, lim: lim, memo: map[*yaml.Node]measure{}, active: map[*yaml.Node]bool{}}
}

func (c *checker) check(doc *yaml.Node) error {
	m, err := c.measure(doc, 0)
	if err != nil {
		return err
	}
	c.total += m.nodes
	if c.total > c.lim.MaxNodes {
		return &Error{File: c.file, Line: doc.Line, Reason: fmt.Sprintf("expands to more than %d nodes once its aliases are followed (alias fan-out, as in the \"billion laughs\"); refused", c.lim.MaxNodes)}
	}
	return nil
}

// measure returns n's expanded size and depth; raw is its depth in the text, which
// bounds the recursion itself.
func (c *checker) measure(n *yaml.Node, raw int) (measure, error) {
	if n == nil {
		return measure{}, nil
	}
	if m, ok := c.memo[n]; ok {
		return m, nil
	}
	if raw > c.lim.MaxDepth {
		return measure{}, c.tooDeep(n)
	}
	if c.active[n] {
		return measure{}, &Error{File: c.file, Line: n.Line, Reason: fmt.Sprintf("anchor &%s contains an alias to itself (a cycle); refused", n.Anchor)}
	}
	c.active[n] = true
	defer delete(c.active, n)
	var m measure
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias != nil && c.active[n.Alias] {
			return measure{}, &Error{File: c.file, Line: n.Line, Reason: fmt.Sprintf("alias *%s refers to a node that contains it (a cycle); refused", n.Value)}
		}
		t, err := c.measure(n.Alias, raw+1)
		if err != nil {
			return measure{}, err
		}
		m = t
	default:
		m.nodes = 1
		for _, ch := range n.Content {
			t, err := c.measure(ch, raw+1)
			if err != nil {
				return measure{}, err
			}
			m.nodes += t.nodes
			if t.depth > m.depth {
				m.depth = t.depth
			}
			if m.nodes > c.lim.MaxNodes {
				return measure{}, &Error{File: c.file, Line: ch.Line, Reason: fmt.Sprintf("expands to more than %d nodes once its aliases are followed (alias fan-out, as in the \"billion laughs\"); refused", c.lim.MaxNodes)}
			}
		}
		if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
			m.depth++
		}
	}
	if m.depth > c.lim.MaxDepth {
		return measure{}, c.tooDeep(n)
	}
	c.memo[n] = m
	return m, nil
}

func (c *checker) tooDeep(n *yaml.Node) error {
	return &Error{File: c.file, Line: n.Line, Reason: fmt.Sprintf("nests deeper than %d levels; refused", c.lim.MaxDepth)}
}

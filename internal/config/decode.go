package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rotor-project/rotor/internal/retention"
)

// maxNodes bounds how many nodes decoding visits, aliases expanded: a document of a few
// kilobytes can alias itself into billions of nodes ("billion laughs").
const maxNodes = 100_000

// decoder walks yaml.v3 nodes, collecting every problem with its position instead of
// stopping at the first.
type decoder struct {
	file    string
	errs    Errors
	visited int
	// bomb is set once the alias budget is spent; decoding then stops everywhere.
	bomb bool
	// unnamed is set when an environment could not be read as far as its name, so
	// names that seem unknown may be that one's.
	unnamed bool
}

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Column: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errs = append(d.errs, Error{File: d.file, Pos: posOf(n), Msg: msg})
}

// resolve follows aliases and counts the node against the budget; nil once it is spent.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	if d.bomb {
		return nil
	}
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 {
			return nil
		}
		n = n.Alias
	}
	d.visited++
	if d.visited > maxNodes {
		d.bomb = true
		d.errs = append(d.errs, Error{File: d.file, Pos: posOf(n), Msg: fmt.Sprintf(
			"the document expands to more than %d nodes through aliases: refusing to read it (write the values out, or use fewer nested aliases)", maxNodes)})
		return nil
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// field is one key and its (alias-resolved) value.
type field struct {
	key, val *yaml.Node
}

// fields reads a mapping: every key must be one of known, at most once. Merge keys
// (<<: *anchor) contribute the keys the mapping does not set itself.
func (d *decoder) fields(n *yaml.Node, path string, known ...string) (map[string]field, bool) {
	n = d.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping, not %s", kindName(n))
		return nil, false
	}
	out := map[string]field{}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, v)
			continue
		}
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain names")
			continue
		}
		if !contains(known, key) {
			d.errorf(k, path, "unknown field %q: the fields here are %s", key, strings.Join(sorted(known), ", "))
			continue
		}
		if prev, dup := out[key]; dup {
			d.errorf(k, path, "%s is given twice (first at line %d)", key, prev.key.Line)
			continue
		}
		out[key] = field{key: k, val: v}
	}
	for _, m := range merged {
		d.merge(out, m, path, known)
	}
	return out, true
}

func (d *decoder) merge(out map[string]field, m *yaml.Node, path string, known []string) {
	m = d.resolve(m)
	if m == nil {
		return
	}
	if m.Kind == yaml.SequenceNode {
		for _, it := range m.Content {
			d.merge(out, it, path, known)
		}
		return
	}
	inner, ok := d.fields(m, path, known...)
	if !ok {
		return
	}
	for k, f := range inner {
		if _, own := out[k]; !own {
			out[k] = f
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}

// scalar returns a non-empty scalar's text.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, *yaml.Node, bool) {
	n = d.resolve(n)
	if n == nil {
		return "", nil, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, path, "must be %s, not %s", want, kindName(n))
		return "", n, false
	}
	return n.Value, n, true
}

func (d *decoder) str(n *yaml.Node, path, want string) (string, bool) {
	s, v, ok := d.scalar(n, path, want)
	if ok && v.Tag != "!!str" {
		d.errorf(v, path, "must be %s, not %s (quote it if it is a name)", want, kindName(v))
		return "", false
	}
	if ok && s == "" {
		d.errorf(v, path, "is empty: give %s", want)
		return "", false
	}
	return s, ok
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	s, v, ok := d.scalar(n, path, "true or false")
	if !ok {
		return false, false
	}
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	d.errorf(v, path, "must be true or false, not %q", s)
	return false, false
}

func (d *decoder) integer(n *yaml.Node, path string, lo, hi int) (int, bool) {
	s, v, ok := d.scalar(n, path, "a whole number")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || v.Tag != "!!int" {
		d.errorf(v, path, "must be a whole number, not %q", s)
		return 0, false
	}
	if i < lo || i > hi {
		d.errorf(v, path, "%d is out of range: give a number from %d to %d", i, lo, hi)
		return 0, false
	}
	return i, true
}

// duration reads a period: Go durations plus days and weeks (14d, 2w, 1w3d, 36h, 90m),
// as cleanup's --retain does.
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, v, ok := d.scalar(n, path, "a duration such as 24h, 30m or 14d")
	if !ok {
		return 0, false
	}
	dur, err := retention.ParseDuration(s)
	if err != nil {
		d.errorf(v, path, "%q is not a duration: use a number and a unit, e.g. 30m, 24h, 14d (days), 2w (weeks), or combinations like 1d12h", s)
		return 0, false
	}
	return dur, true
}

// list reads a sequence, calling item for each element.
func (d *decoder) list(n *yaml.Node, path string, item func(i int, n *yaml.Node)) bool {
	n = d.resolve(n)
	if n == nil {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list, not %s", kindName(n))
		return false
	}
	for i, it := range n.Content {
		if d.bomb {
			return false
		}
		item(i, it)
	}
	return true
}

// names reads a list of distinct names, each checked by valid (a message, or "").
func (d *decoder) names(n *yaml.Node, path, what string, valid func(string) string) ([]string, []Pos, bool) {
	var out []string
	var pos []Pos
	ok := d.list(n, path, func(i int, it *yaml.Node) {
		p := fmt.Sprintf("%s[%d]", path, i)
		s, good := d.str(it, p, what)
		if !good {
			return
		}
		it = d.resolve(it)
		if it == nil {
			return
		}
		if msg := valid(s); msg != "" {
			d.errorf(it, p, "%q %s", s, msg)
			return
		}
		if contains(out, s) {
			d.errorf(it, p, "%q is listed twice", s)
			return
		}
		out = append(out, s)
		pos = append(pos, posOf(it))
	})
	return out, pos, ok
}

// oneOf reads a scalar that must be one of choices.
func (d *decoder) oneOf(n *yaml.Node, path, what string, choices ...string) (string, bool) {
	s, v, ok := d.scalar(n, path, what)
	if !ok {
		return "", false
	}
	if !contains(choices, s) {
		d.errorf(v, path, "unknown %s %q: use %s", what, s, strings.Join(choices, " or "))
		return "", false
	}
	return s, true
}

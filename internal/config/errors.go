package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in the file, at a position.
type Error struct {
	File string
	Pos  Pos
	Msg  string
}

func (e Error) Error() string {
	if e.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Column, e.Msg)
}

// Errors are every problem found, in file order. Load and Check return them as one
// error; errors.As finds them.
type Errors []Error

// maxErrors bounds what a broken (or hostile) file can make rotor print.
const maxErrors = 50

func (es Errors) Error() string {
	lines := make([]string, 0, len(es)+1)
	for i, e := range es {
		if i == maxErrors {
			lines = append(lines, fmt.Sprintf("… and %d more problems", len(es)-maxErrors))
			break
		}
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

// sorted orders by position and drops exact duplicates (an aliased node reached twice).
func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Pos.Line != es[j].Pos.Line {
			return es[i].Pos.Line < es[j].Pos.Line
		}
		return es[i].Pos.Column < es[j].Pos.Column
	})
	out := es[:0]
	for i, e := range es {
		if i > 0 && e == es[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

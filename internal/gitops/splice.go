package gitops

import (
	"bytes"
	"errors"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

var bom = []byte("\xef\xbb\xbf")

// lineStarts are the byte offsets where each line begins, as yaml.v3 counts lines: a
// line ends at \n, \r\n or a lone \r. A byte-order mark is not part of line 1.
func lineStarts(data []byte) []int {
	starts := []int{0}
	if bytes.HasPrefix(data, bom) {
		starts[0] = len(bom)
	}
	for i := starts[0]; i < len(data); i++ {
		switch data[i] {
		case '\n':
			starts = append(starts, i+1)
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offset is the byte offset of a 1-based line and column (columns count characters,
// as yaml.v3 does).
func offset(data []byte, lines []int, line, col int) (int, bool) {
	if line < 1 || line > len(lines) || col < 1 {
		return 0, false
	}
	off := lines[line-1]
	for c := 1; c < col; c++ {
		if off >= len(data) || data[off] == '\n' || data[off] == '\r' {
			return 0, false
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	return off, true
}

var (
	errLocate     = errors.New("its text is not where the parser says (report this as a rotor bug)")
	errBlock      = errors.New("the name is a block scalar (| or >)")
	errEscaped    = errors.New("the name is written with escapes or over several lines")
	errUnknownPos = errors.New("its position is unknown")
)

// scalarSpan finds the bytes of a scalar's content in the file: the name itself, inside
// any quotes, after any anchor or tag. It checks that those bytes are exactly the
// scalar's value, so a splice there changes that value and nothing else.
func scalarSpan(data []byte, lines []int, line, col int, n *yaml.Node) (span, error) {
	off, ok := offset(data, lines, line, col)
	if !ok {
		return span{}, errUnknownPos
	}
	// Node properties come first: &anchor and !tag, each followed by blanks.
	for off < len(data) && (data[off] == '&' || data[off] == '!') {
		for off < len(data) && !isBlank(data[off]) {
			off++
		}
		for off < len(data) && (data[off] == ' ' || data[off] == '\t') {
			off++
		}
	}
	style := n.Style &^ yaml.TaggedStyle
	v := []byte(n.Value)
	switch style {
	case 0:
		if !bytes.HasPrefix(data[off:], v) {
			return span{}, errLocate
		}
		return span{start: off, end: off + len(v)}, nil
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := byte('"')
		if style == yaml.SingleQuotedStyle {
			q = '\''
		}
		if off >= len(data) || data[off] != q {
			return span{}, errLocate
		}
		start, end := off+1, off+1+len(v)
		if end >= len(data) || !bytes.Equal(data[start:end], v) || data[end] != q {
			return span{}, errEscaped
		}
		return span{start: start, end: end}, nil
	case yaml.LiteralStyle, yaml.FoldedStyle:
		return span{}, errBlock
	}
	return span{}, errLocate
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// splice replaces each span's bytes with to; spans are sorted and do not overlap.
func splice(data []byte, spans []span, to string) []byte {
	var b bytes.Buffer
	b.Grow(len(data) + len(spans)*len(to))
	last := 0
	for _, sp := range spans {
		b.Write(data[last:sp.start])
		b.WriteString(to)
		last = sp.end
	}
	b.Write(data[last:])
	return b.Bytes()
}

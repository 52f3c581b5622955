package gitops

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
)

// diffContext is the number of unchanged lines around each change, as diff -u.
const diffContext = 3

// Diff writes the plan as a unified diff (git's a/ and b/ prefixes, paths relative to
// the root), one file after another.
func (p *Plan) Diff(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, c := range p.Changes {
		name := p.relative(c.File)
		fmt.Fprintf(bw, "--- a/%s\n+++ b/%s\n", name, name)
		writeHunks(bw, splitLines(c.Old), splitLines(c.New))
	}
	return bw.Flush()
}

func (p *Plan) relative(file string) string {
	rel, err := filepath.Rel(p.Root, file)
	if err != nil || rel == "." {
		rel = filepath.Base(file)
	}
	return filepath.ToSlash(rel)
}

// splitLines splits after each \n, keeping it (and any \r before it).
func splitLines(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, string(b[start:i+1]))
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, string(b[start:]))
	}
	return out
}

// writeHunks writes the hunks between two versions of a file. A rewrite changes names
// within lines, never the number of lines, so lines pair up one to one; should they
// not, the whole file is one hunk.
func writeHunks(w *bufio.Writer, before, after []string) {
	if len(before) != len(after) {
		writeHunk(w, before, after, 0, len(before), 0, len(after))
		return
	}
	var changed []int
	for i := range before {
		if before[i] != after[i] {
			changed = append(changed, i)
		}
	}
	for i := 0; i < len(changed); {
		start := max(changed[i]-diffContext, 0)
		j := i
		for j+1 < len(changed) && changed[j+1]-changed[j] <= 2*diffContext {
			j++
		}
		end := min(changed[j]+diffContext+1, len(before))
		writeHunk(w, before, after, start, end, start, end)
		i = j + 1
	}
}

func writeHunk(w *bufio.Writer, before, after []string, bs, be, as, ae int) {
	fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(bs, be), hunkRange(as, ae))
	if len(before) != len(after) {
		for _, l := range before[bs:be] {
			writeLine(w, '-', l)
		}
		for _, l := range after[as:ae] {
			writeLine(w, '+', l)
		}
		return
	}
	for i := bs; i < be; i++ {
		if before[i] == after[i] {
			writeLine(w, ' ', before[i])
			continue
		}
		// Consecutive changed lines are shown as a block: all removals, then additions.
		k := i
		for k < be && before[k] != after[k] {
			writeLine(w, '-', before[k])
			k++
		}
		for m := i; m < k; m++ {
			writeLine(w, '+', after[m])
		}
		i = k - 1
	}
}

func hunkRange(start, end int) string {
	n := end - start
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

func writeLine(w *bufio.Writer, mark byte, line string) {
	_ = w.WriteByte(mark)
	_, _ = w.WriteString(line)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		_, _ = w.WriteString("\n\\ No newline at end of file\n")
	}
}

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// badInputRow is one row of the table in docs/bad-input.md.
type badInputRow struct {
	id, message, test string
}

// readBadInputTable parses the rows of docs/bad-input.md: | `id` | input | message | test |.
func readBadInputTable(t *testing.T) []badInputRow {
	t.Helper()
	root, err := clusterenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", "bad-input.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []badInputRow
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := splitRow(line)
		if len(cells) != 4 {
			t.Fatalf("docs/bad-input.md: a row without 4 cells: %s", line)
		}
		rows = append(rows, badInputRow{id: unquote(cells[0]), message: unquote(cells[2]), test: unquote(cells[3])})
	}
	return rows
}

// splitRow splits a Markdown table row at unescaped pipes and unescapes the cells.
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	for _, q := range []string{"`` ", "`"} {
		if strings.HasPrefix(s, q) && strings.HasSuffix(s, strings.TrimSpace(q)) {
			s = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(s, q), strings.TrimSpace(q)), " ")
			break
		}
	}
	return s
}

// errorLine is the message a golden shows the user: its line starting "error: ".
func errorLine(golden string) string {
	for _, l := range strings.Split(golden, "\n") {
		if strings.HasPrefix(l, "error: ") {
			return l
		}
	}
	return ""
}

// TestBadInputTableMatchesTheTests keeps docs/bad-input.md and TestBadInput in step:
// the same cases in the same order, at least 40, each row naming its test and showing
// exactly the error line of the case's golden.
func TestBadInputTableMatchesTheTests(t *testing.T) {
	rows := readBadInputTable(t)
	if len(rows) < 40 {
		t.Fatalf("docs/bad-input.md has %d cases; at least 40 are promised", len(rows))
	}
	if len(rows) != len(badInputCases) {
		t.Errorf("docs/bad-input.md has %d cases, TestBadInput %d", len(rows), len(badInputCases))
	}
	for i, row := range rows {
		if i >= len(badInputCases) || badInputCases[i].id != row.id {
			t.Fatalf("row %d is %q; TestBadInput's case %d differs: keep both in the same order", i+1, row.id, i+1)
		}
		if want := "TestBadInput/" + row.id; row.test != want {
			t.Errorf("row %q names test %q, want %q", row.id, row.test, want)
		}
		golden, err := os.ReadFile(filepath.Join("testdata", "bad-input", row.id+".golden"))
		if err != nil {
			t.Errorf("row %q: %v", row.id, err)
			continue
		}
		if want := errorLine(string(golden)); row.message != want {
			t.Errorf("row %q shows\n  %s\nbut the user gets\n  %s", row.id, row.message, want)
		}
	}
}

package boundedyaml

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// laughs is the billion-laughs document: each level names the one before ten times.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [lol]\n")
	for i := 1; i <= levels; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		lim      Limits
		wantDocs int
		wantErr  string
	}{
		{"plain documents are read", "a: 1\n---\nb: [x, y]\n", Defaults, 2, ""},
		{"JSON is YAML", `{"kind": "List", "items": [{"a": 1}]}`, Defaults, 1, ""},
		{"an alias used a few times is fine", "a: &x {k: v}\nb: *x\nc: *x\n", Defaults, 1, ""},
		{"a sequence that contains itself is a cycle, with its line", "x: 1\ny: &a [*a]\n", Defaults, 0, "f.yaml:2: "},
		{"a mapping that contains itself is a cycle", "&a {items: [*a]}\n", Defaults, 0, "f.yaml:1: alias *a refers to a node that contains it (a cycle)"},
		{"a deeper cycle is found", "root: &r\n  child:\n    grand: [*r]\n", Defaults, 0, "(a cycle)"},
		{"billion laughs is refused by its expanded size", laughs(9), Defaults, 0, "expands to more than 200000 nodes"},
		{"a modest fan-out within the limit is fine", laughs(3), Defaults, 1, ""},
		{"deep nesting is refused with its line", strings.Repeat("[", 150) + strings.Repeat("]", 150), Defaults, 0, "nests deeper than 100 levels"},
		{"nesting through aliases counts", "a: &a [[[[x]]]]\nb: [[[[*a]]]]\n", Limits{MaxBytes: 1 << 20, MaxNodes: 1000, MaxDepth: 6}, 0, "nests deeper than 6"},
		{"the parser's own depth guard is reported, not a crash", strings.Repeat("[", 20000), Defaults, 0, "f.yaml"},
		{"an unknown alias is invalid YAML", "a: *nope\n", Defaults, 0, "not valid YAML or JSON"},
		{"a syntax error names its line", "a: 1\nb: [\n", Defaults, 0, "f.yaml:"},
		{"an oversized buffer is refused", strings.Repeat("a", 11), Limits{MaxBytes: 10, MaxNodes: 10, MaxDepth: 10}, 0, "larger than 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Decode("f.yaml", []byte(tt.data), tt.lim)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				var e *Error
				if !errors.As(err, &e) || e.File != "f.yaml" {
					t.Fatalf("error %v is not an *Error naming the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != tt.wantDocs {
				t.Fatalf("%d documents, want %d", len(docs), tt.wantDocs)
			}
		})
	}
}

func TestReadFileStopsAtTheLimit(t *testing.T) {
	lim := Limits{MaxBytes: 4096, MaxNodes: 100, MaxDepth: 10}
	_, err := ReadFile(context.Background(), "/dev/zero", lim)
	if err == nil || !strings.Contains(err.Error(), "/dev/zero: is larger than 4 KiB") {
		t.Fatalf("error = %v", err)
	}
	dir := t.TempDir()
	if _, err := ReadFile(context.Background(), dir, lim); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("directory: error = %v", err)
	}
	small := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(small, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(context.Background(), small, lim); err != nil || string(b) != "a: 1\n" {
		t.Fatalf("small file: %q, %v", b, err)
	}
}

func TestReadFileOfAFIFOWithoutWriterEndsWithTheContext(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadFile(ctx, fifo, Defaults); !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	// Let the abandoned open finish.
	if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
		_ = f.Close()
	}
}

func TestUnmarshalStrict(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	if err := UnmarshalStrict("f.yaml", []byte("a: 2\n"), Defaults, &v); err != nil || v.A != 2 {
		t.Fatalf("a = %d, err = %v", v.A, err)
	}
	if err := UnmarshalStrict("f.yaml", []byte("a: 2\nb: 3\n"), Defaults, &v); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("unknown field: err = %v", err)
	}
	if err := UnmarshalStrict("f.yaml", []byte("&a {items: [*a]}\n"), Defaults, &v); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: err = %v", err)
	}
	if err := UnmarshalStrict("f.yaml", []byte("a: 1\n---\na: 2\n"), Defaults, &v); err == nil || !strings.Contains(err.Error(), "holds more than one document") {
		t.Fatalf("two documents: err = %v", err)
	}
}

package analysis

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadIsBounded(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, wantErr string
	}{
		{"an endless file is refused at 1 MiB", "/dev/zero", "analysis file /dev/zero: is larger than 1 MiB"},
		{"a directory is refused", dir, "is a directory"},
		{"an alias cycle is refused with file and line", write("cycle.yaml", "spec:\n  metrics: &m\n  - name: x\n    items: [*m]\n"), "cycle.yaml:4: alias *m refers to a node that contains it (a cycle)"},
		{"billion laughs is refused with file and line", write("laughs.yaml", laughsDoc()), "laughs.yaml:"},
		{"a missing file says so", filepath.Join(dir, "nope.yaml"), "nope.yaml: cannot read it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.path, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func laughsDoc() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	prev := "a0"
	for i := 1; i <= 8; i++ {
		name := "a" + string(rune('0'+i))
		b.WriteString(name + ": &" + name + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = name
	}
	return b.String()
}

// FuzzParse feeds arbitrary documents to the AnalysisTemplate reader: it must refuse
// or accept, never panic or hang, and what it accepts has named, unique metrics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(argoTemplate))
	f.Add([]byte("metrics:\n- name: m\n  provider:\n    web: {url: 'http://x/{{args.p}}', jsonPath: '{$.v}'}\nargs: [{name: p, value: q}]\n"))
	f.Add([]byte("kind: Analysis\napiVersion: rotor.dev/v1alpha1\nspec:\n  metrics: &m [{name: a, items: *m}]\n"))
	f.Add([]byte(laughsDoc()))
	f.Add([]byte("{\"spec\": {\"metrics\": [{\"name\": \"a\", \"count\": \"{{args.n}}\", \"provider\": {\"prometheus\": {\"address\": \"http://p\", \"query\": \"up\"}}}]}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tm, err := Parse(b, map[string]string{"service": "api", "version": "v", "n": "3"})
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, m := range tm.Metrics {
			if m.Name == "" || seen[m.Name] {
				t.Fatalf("accepted metrics without unique names: %+v", tm.Metrics)
			}
			seen[m.Name] = true
		}
	})
}

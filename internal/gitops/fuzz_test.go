package gitops

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// scanBytes scans data as the one file x.yaml under /fuzz, without touching the disk.
func scanBytes(data []byte) *Scan {
	s := &Scan{Root: "/fuzz", Family: fam, files: map[string]*sourceFile{}}
	s.parse("/fuzz/x.yaml", 0o644, data)
	return s
}

func FuzzSetRewrite(f *testing.F) {
	_ = filepath.WalkDir(filepath.Join("testdata", "repo"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, err := os.ReadFile(path); err == nil {
				f.Add(data)
			}
		}
		return nil
	})
	f.Add([]byte("kind: Pod\nspec:\n  containers: [{name: a, envFrom: [{secretRef: {name: &x " + v1 + "}}]}]\n  volumes: [{name: v, secret: {secretName: *x}}]\n"))
	f.Add([]byte("kind: Pod\nspec:\n  containers:\n  - name: a\n    env:\n    - {name: T, valueFrom: {secretKeyRef: {name: !!str '" + v1 + "', key: k}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := scanBytes(data)
		p, err := s.Set(v2, SetOptions{})
		if err != nil || len(p.Changes) == 0 {
			return
		}
		if len(p.Changes) != 1 {
			t.Fatalf("one file in, %d changes out", len(p.Changes))
		}
		out := p.Changes[0].New
		// Every rewritten reference now names v2, and nothing else moved.
		again := scanBytes(out)
		if len(again.References) != len(s.References) {
			t.Fatalf("references %d before, %d after", len(s.References), len(again.References))
		}
		if len(p.From) != 1 {
			return
		}
		// One version in, so setting it back gives the original bytes.
		back, err := again.Set(p.From[0], SetOptions{})
		if err != nil {
			t.Fatalf("setting back: %v", err)
		}
		restored := out
		if len(back.Changes) == 1 {
			restored = back.Changes[0].New
		}
		if hadV2(s) {
			return // references that named v2 before are set to v1 too: not a round trip
		}
		if !bytes.Equal(restored, data) {
			t.Fatalf("v1 → v2 → v1 changed the file:\n%q\n%q", data, restored)
		}
	})
}

func hadV2(s *Scan) bool {
	for _, r := range s.References {
		if r.Secret == v2 {
			return true
		}
	}
	return false
}

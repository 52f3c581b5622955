package refs

import (
	"testing"

	"github.com/rotor-project/rotor/internal/boundedyaml"
	"github.com/rotor-project/rotor/internal/secretref"
)

// FuzzReadManifest feeds arbitrary bytes to the manifest reader and the reference walk
// over what it accepts: nothing may panic, loop or blow up, and every reference found
// names a version of the family with a line in the file.
func FuzzReadManifest(f *testing.F) {
	for _, s := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        envFrom:\n        - secretRef: {name: app-20250723110000}\n",
		"kind: List\nitems:\n- kind: Pod\n  spec: {volumes: [{name: v, secret: {secretName: app-20250723110000}}]}\n",
		"kind: Pod\nspec: &s {containers: [*s]}\n",
		"a: &a [*a]\n",
		"a0: &a0 [x]\na1: &a1 [*a0, *a0, *a0]\na2: [*a1, *a1, *a1]\n",
		"---\n---\nkind: Secret\n",
		"{\"kind\": \"Pod\", \"spec\": {\"imagePullSecrets\": [{\"name\": \"app\"}]}}",
	} {
		f.Add([]byte(s))
	}
	lim := boundedyaml.Limits{MaxBytes: 1 << 16, MaxNodes: 20_000, MaxDepth: 64}
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, err := boundedyaml.Decode("f.yaml", b, lim)
		if err != nil {
			return
		}
		res := &Result{}
		m := newMatcher(Query{Family: "app"})
		for _, doc := range docs {
			manifestObject("f.yaml", secretref.YAMLNode(doc), "", m, res)
		}
		for _, r := range res.References {
			if !m.match(r.Secret) || r.Line < 1 {
				t.Fatalf("reference %+v does not name the family or has no line", r)
			}
		}
	})
}

package kinds

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/internal/secretref"
)

// samples are one object of every registered kind naming the Secret "s" in each of
// its places (and the pod-template annotation where it has a template). The test
// below fails for a registered kind without a sample: adding a kind means saying here
// where its references are.
var samples = map[string]string{
	"Pod":                     `{spec: {containers: [{name: app, envFrom: [{secretRef: {name: s}}]}]}}`,
	"Deployment":              `{spec: {template: {metadata: {annotations: {vault.hashicorp.com/tls-secret: s}}, spec: {containers: [{name: app, envFrom: [{secretRef: {name: s}}]}]}}}}`,
	"ReplicaSet":              `{spec: {template: {spec: {volumes: [{name: v, secret: {secretName: s}}]}}}}`,
	"StatefulSet":             `{spec: {template: {spec: {imagePullSecrets: [{name: s}]}}}}`,
	"DaemonSet":               `{spec: {template: {spec: {volumes: [{name: c, csi: {driver: d, nodePublishSecretRef: {name: s}}}]}}}}`,
	"ControllerRevision":      `{data: {spec: {template: {spec: {containers: [{name: app, envFrom: [{secretRef: {name: s}}]}]}}}}}`,
	"Job":                     `{spec: {template: {spec: {containers: [{name: app, env: [{name: T, valueFrom: {secretKeyRef: {name: s, key: k}}}]}]}}}}`,
	"CronJob":                 `{spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: app, envFrom: [{secretRef: {name: s}}]}]}}}}}}`,
	"ReplicationController":   `{spec: {template: {spec: {containers: [{name: app, envFrom: [{secretRef: {name: s}}]}]}}}}`,
	"PodTemplate":             `{template: {spec: {containers: [{name: app, envFrom: [{secretRef: {name: s}}]}]}}}`,
	"ServiceAccount":          `{secrets: [{name: s}]}`,
	"Ingress":                 `{metadata: {annotations: {nginx.ingress.kubernetes.io/auth-secret: s}}, spec: {tls: [{secretName: s}]}}`,
	"PersistentVolume":        `{spec: {csi: {driver: d, volumeHandle: h, nodeStageSecretRef: {name: s, namespace: other}}}}`,
	"StorageClass":            `{provisioner: p, parameters: {csi.storage.k8s.io/provisioner-secret-name: s, csi.storage.k8s.io/provisioner-secret-namespace: other}}`,
	"Rollout":                 `{spec: {template: {spec: {containers: [{name: app, envFrom: [{secretRef: {name: s}}]}]}}}}`,
	"AnalysisTemplate":        `{spec: {args: [{name: token, valueFrom: {secretKeyRef: {name: s, key: k}}}]}}`,
	"ClusterAnalysisTemplate": `{spec: {args: [{name: token, valueFrom: {secretKeyRef: {name: s, key: k}}}]}}`,
	"AnalysisRun":             `{spec: {args: [{name: token, valueFrom: {secretKeyRef: {name: s, key: k}}}]}}`,
	"ExternalSecret":          `{spec: {target: {name: s}}}`,
	"Gateway":                 `{spec: {listeners: [{name: https, tls: {certificateRefs: [{name: s}]}}]}}`,
}

// sampleRefs are how many references each sample holds (one unless it says more).
var sampleRefs = map[string]int{"Deployment": 2, "Ingress": 2}

func sample(t *testing.T, k *Kind) map[string]any {
	t.Helper()
	doc, ok := samples[k.Kind]
	if !ok {
		t.Fatalf("%s is registered but has no sample: add one naming the Secret s in each of its places", k.Kind)
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%s sample: %v", k.Kind, err)
	}
	m["apiVersion"], m["kind"] = k.APIVersion(), k.Kind
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["metadata"] = meta
	}
	meta["name"] = "x"
	return m
}

func TestEveryRegisteredKindIsComplete(t *testing.T) {
	aliases := map[string]string{}
	for _, k := range All() {
		t.Run(k.Kind, func(t *testing.T) {
			if k.Resource == "" || len(k.Versions) == 0 {
				t.Fatal("no API resource or version")
			}
			if k.Judge == nil {
				t.Fatal("no health judge")
			}
			if len(k.Aliases) == 0 {
				t.Fatal("no aliases")
			}
			for _, a := range append(k.Aliases, strings.ToLower(k.Kind)) {
				if other, dup := aliases[a]; dup && other != k.Kind {
					t.Fatalf("alias %q is also %s's", a, other)
				}
				aliases[a] = k.Kind
				if Resolve(a) != k {
					t.Fatalf("Resolve(%q) is not %s", a, k.Kind)
				}
			}
			if k.Rolls && k.Pods == nil {
				t.Fatal("rolls out pods but has no pod selector")
			}
			if k.Consumer() && k.Effect == "" {
				t.Fatal("a consumer kind must say when a re-point takes effect (or what to do)")
			}
			if k.Repoint == Immutable && k.Rolls {
				t.Fatal("immutable yet rolls out")
			}
			// Its walker finds every reference of its sample, each at a pointer that
			// addresses the name.
			m := sample(t, k)
			var refs []secretref.Ref
			k.Walk(secretref.MapNode(m), func(r secretref.Ref) bool { refs = append(refs, r); return true })
			want := 1
			if n, ok := sampleRefs[k.Kind]; ok {
				want = n
			}
			if len(refs) != want {
				t.Fatalf("walker found %d references in the sample, want %d: %+v", len(refs), want, refs)
			}
			for _, r := range refs {
				if r.Name != "s" || r.Pointer == "" || resolve(t, m, r.Pointer) != r.Prefix+r.Name {
					t.Fatalf("reference %+v does not address the name", r)
				}
			}
			// Typed kinds: the typed walker reports the same references.
			if k.Typed() {
				typedAgrees(t, k, m, refs)
			}
		})
	}
}

// typedAgrees decodes the sample into its typed object and walks it with VisitTyped.
func typedAgrees(t *testing.T, k *Kind, m map[string]any, want []secretref.Ref) {
	t.Helper()
	obj, err := scheme.Scheme.New(k.GVR().GroupVersion().WithKind(k.Kind))
	if err != nil {
		t.Fatal(err)
	}
	if k.Kind == "ControllerRevision" { // data is raw JSON in the typed object
		m = map[string]any{"metadata": m["metadata"], "data": m["data"]}
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, obj); err != nil {
		t.Fatal(err)
	}
	var got []secretref.Ref
	if err := k.VisitTyped(obj.(Object), func(r secretref.Ref) bool { got = append(got, r); return true }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(describe(got), describe(want)) {
		t.Fatalf("typed walker:\n %q\ntree walker:\n %q", describe(got), describe(want))
	}
}

func describe(refs []secretref.Ref) []string {
	var out []string
	for _, r := range refs {
		out = append(out, fmt.Sprintf("%s %s %s %s ns=%s any=%v", r.Path, r.Pointer, r.Name, r.Style, r.Namespace, r.AnyNamespace))
	}
	return out
}

func TestEverySampleIsOfARegisteredKind(t *testing.T) {
	for kind := range samples {
		if Lookup(kind) == nil {
			t.Fatalf("sample for %s, which is not registered", kind)
		}
	}
}

func TestAnUnregisteredKindInAManifestHasOnlyItsAnnotationsWalked(t *testing.T) {
	m := map[string]any{"metadata": map[string]any{"annotations": map[string]any{"nginx.ingress.kubernetes.io/auth-secret": "s"}},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"imagePullSecrets": []any{map[string]any{"name": "s"}}}}}}
	var refs []secretref.Ref
	Walk("Widget", secretref.MapNode(m), func(r secretref.Ref) bool { refs = append(refs, r); return true })
	if len(refs) != 1 || refs[0].Style != secretref.Annotation {
		t.Fatalf("refs = %+v", refs)
	}
}

func TestRolloutWorkloadRefNamesItsDeployment(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"workloadRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}}
	kind, name, ok := Lookup("Rollout").TemplateFrom(u)
	if !ok || kind != "Deployment" || name != "web" {
		t.Fatalf("TemplateFrom = %s %s %v", kind, name, ok)
	}
}

// TestNoOtherTableOfKindsExists: knowledge of kinds lives here only. Outside this
// package, production code may compare with one kind ("is it a Deployment?"), but a
// switch, map or list naming two or more registered kinds is a second table: read
// the registry instead.
func TestNoOtherTableOfKindsExists(t *testing.T) {
	root := filepath.Join("..", "..")
	registered := map[string]bool{}
	for _, k := range All() {
		registered[k.Kind] = true
	}
	var offenders []string
	for _, dir := range []string{"internal", "cmd"} {
		err := filepath.Walk(filepath.Join(root, dir), func(path string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if info.IsDir() && strings.HasSuffix(path, filepath.Join("internal", "kinds")) {
				return filepath.SkipDir
			}
			if info.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				var lits []ast.Expr
				switch x := n.(type) {
				case *ast.CaseClause:
					lits = x.List
				case *ast.CompositeLit:
					for _, e := range x.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							lits = append(lits, kv.Key)
						} else {
							lits = append(lits, e)
						}
					}
				default:
					return true
				}
				count := 0
				for _, l := range lits {
					if b, ok := l.(*ast.BasicLit); ok && b.Kind == token.STRING {
						if s, err := strconv.Unquote(b.Value); err == nil && registered[s] {
							count++
						}
					}
				}
				if count >= 2 {
					offenders = append(offenders, fset.Position(n.Pos()).String())
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(offenders) > 0 {
		t.Fatalf("tables of kinds outside internal/kinds (read the registry instead): %s", strings.Join(offenders, ", "))
	}
}

// resolve follows a JSON pointer through an unstructured object.
func resolve(t *testing.T, obj any, ptr string) any {
	t.Helper()
	for _, seg := range strings.Split(ptr, "/")[1:] {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch o := obj.(type) {
		case map[string]any:
			obj = o[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i >= len(o) {
				t.Fatalf("bad index %q in %s", seg, ptr)
			}
			obj = o[i]
		default:
			t.Fatalf("%s: cannot descend into %T at %q", ptr, obj, seg)
		}
	}
	return obj
}

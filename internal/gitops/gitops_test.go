package gitops

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

const (
	fam = "auth-api-secrets"
	v1  = "auth-api-secrets-20250715100000"
	v2  = "auth-api-secrets-20250723110000"
)

// fixture copies testdata/repo to a temporary directory and returns it.
func fixture(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "repo")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// tree reads every file under dir, by relative path.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("differs from %s (rerun with -update if intended):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func set(t *testing.T, dir, to string, opts SetOptions) *Plan {
	t.Helper()
	p, err := Set(dir, fam, to, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSetRewritesEveryReferenceAndNothingElse(t *testing.T) {
	dir := fixture(t)
	p := set(t, dir, v2, SetOptions{})
	var diff bytes.Buffer
	if err := p.Diff(&diff); err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "set-v2.diff", diff.String())
	if strings.Join(p.From, ",") != v1 {
		t.Fatalf("from = %v", p.From)
	}
	var where []string
	for _, e := range p.Edits() {
		rel, _ := filepath.Rel(dir, e.File)
		w := e.Object.String() + " " + e.Path
		if e.Via != "" {
			w += " via " + e.Via
		}
		where = append(where, rel+": "+w)
	}
	assertGolden(t, "set-v2.edits", strings.Join(where, "\n")+"\n")
}

func TestScanReportsWhatItLeavesAlone(t *testing.T) {
	dir := fixture(t)
	s, err := ScanDir(dir, fam)
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	rel := func(f string) string { r, _ := filepath.Rel(dir, f); return r }
	for _, l := range s.Skipped {
		notes = append(notes, "skipped "+rel(l.File)+": "+l.Reason)
	}
	for _, l := range s.Producers {
		notes = append(notes, "producer "+rel(l.File)+": "+l.Reason)
	}
	for _, r := range s.Unversioned {
		notes = append(notes, "unversioned "+rel(r.File)+": "+r.Object.String()+" "+r.Path)
	}
	sort.Strings(notes)
	got := strings.Join(notes, "\n")
	for _, want := range []string{
		"skipped charts/api/templates/deployment.yaml: a Helm template: not parsed, left untouched; it mentions " + v1 + " on line 13: change that by hand",
		"skipped legacy/template.yaml: a template (a mapping used as a key on line 5, as {{ … }} parses): not rewritten, left untouched; it mentions " + v1 + " on line 7",
		"producer infra/externalsecrets.yaml: defines version " + v1,
		"unversioned legacy/worker.yaml: Deployment/payments/legacy spec.template.spec.containers[name=legacy].envFrom[0].secretRef",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("notes lack %q:\n%s", want, got)
		}
	}
	if len(s.ValuesInGit) != 0 {
		t.Fatalf("values in git: %v", s.ValuesInGit)
	}
}

func TestSetThenSetBackGivesTheOriginalBytes(t *testing.T) {
	dir := fixture(t)
	before := tree(t, dir)
	if err := set(t, dir, v2, SetOptions{}).Write(); err != nil {
		t.Fatal(err)
	}
	mid := tree(t, dir)
	if mid["apps/api/deployment.yaml"] == before["apps/api/deployment.yaml"] {
		t.Fatal("the first set changed nothing")
	}
	back := set(t, dir, v1, SetOptions{})
	if err := back.Write(); err != nil {
		t.Fatal(err)
	}
	after := tree(t, dir)
	for f, want := range before {
		if after[f] != want {
			t.Errorf("%s differs after v1 → v2 → v1", f)
		}
	}
	if again := set(t, dir, v1, SetOptions{}); len(again.Changes) != 0 {
		t.Fatalf("setting the version every reference names changes nothing, got %d files", len(again.Changes))
	}
}

func TestSetRefusesWhenValuesAreInGit(t *testing.T) {
	tests := []struct {
		name, file, content, wantLine string
	}{
		{"a Secret with stringData", "apps/api/secret.yaml",
			"apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: hunter2-canary\n", "apps/api/secret.yaml:5 (Secret/db): a Secret with stringData"},
		{"a Secret with data in a List", "infra/list.json",
			`{"kind": "List", "apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "n"}, "data": {"k": "Y2FuYXJ5"}}]}`, "infra/list.json:1 (Secret/n/x): a Secret with data"},
		{"a secretGenerator with literals", "infra/kustomization.yaml",
			"secretGenerator:\n- name: db\n  literals: [password=hunter2-canary]\n", "infra/kustomization.yaml:3 (Secret/db): a secretGenerator with literals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fixture(t)
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			before := tree(t, dir)
			s, err := ScanDir(dir, fam)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Set(v2, SetOptions{})
			var vig *ValuesInGitError
			if !errors.As(err, &vig) || !strings.Contains(err.Error(), filepath.Join(dir, tt.wantLine)) {
				t.Fatalf("got %v, want a refusal naming %s", err, tt.wantLine)
			}
			if strings.Contains(err.Error(), "canary") || strings.Contains(err.Error(), "Y2FuYXJ5") {
				t.Fatal("the refusal shows a value")
			}
			after := tree(t, dir)
			if len(after) != len(before) {
				t.Fatal("files appeared or vanished")
			}
			for f := range before {
				if after[f] != before[f] {
					t.Fatalf("%s changed", f)
				}
			}
		})
	}
}

func TestReferencesThatCannotBeSplicedStopTheRewrite(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"a block scalar", "kind: Pod\nspec:\n  containers:\n  - name: a\n    envFrom:\n    - secretRef:\n        name: |-\n          " + v1 + "\n",
			"the name is a block scalar"},
		{"an escaped string", "{\"kind\": \"Pod\", \"spec\": {\"containers\": [{\"name\": \"a\", \"envFrom\": [{\"secretRef\": {\"name\": \"auth-api-secrets-2025071510000\\u0030\"}}]}]}}",
			"written with escapes"},
		{"a patch in a quoted string", "kind: Kustomization\napiVersion: kustomize.config.k8s.io/v1beta1\npatches:\n- target: {kind: Deployment, name: a}\n  patch: \"- op: replace\\n  path: /spec/template/spec/volumes/0/secret/secretName\\n  value: " + v1 + "\\n\"\n",
			"inside a patch written as a quoted or folded string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "x.yaml"), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := ScanDir(dir, fam)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.References) != 1 {
				t.Fatalf("want the reference found, got %+v", s.References)
			}
			_, err = s.Set(v2, SetOptions{})
			var ue *UnrewritableError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestSetCanSelectReferences(t *testing.T) {
	dir := fixture(t)
	p := set(t, dir, v2, SetOptions{Select: func(r Reference) bool { return r.Object.Kind == "Job" }})
	if len(p.Changes) != 1 || !strings.HasSuffix(p.Changes[0].File, "job.json") || len(p.Edits()) != 1 {
		t.Fatalf("changes = %+v", p.Changes)
	}
}

func TestSetRefusesAnythingButAVersionOfTheFamily(t *testing.T) {
	s, err := ScanDir(fixture(t), fam)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"latest", fam, "other-secrets-20250101000000", fam + "-2025"} {
		var iv *InvalidVersionError
		if _, err := s.Set(to, SetOptions{}); !errors.As(err, &iv) {
			t.Errorf("%s: got %v", to, err)
		}
	}
}

func TestScanRefusesAMissingDirectoryAndABadFamily(t *testing.T) {
	if _, err := ScanDir(filepath.Join(t.TempDir(), "nope"), fam); err == nil || !strings.Contains(err.Error(), "give an existing directory") {
		t.Fatalf("got %v", err)
	}
	if _, err := ScanDir(t.TempDir(), "Bad_Family"); err == nil {
		t.Fatal("a bad family must be refused")
	}
}

func TestDiffHunksMergeNearbyChangesAndMarkAMissingNewline(t *testing.T) {
	old := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nlast"
	lines := strings.Split(old, "\n")
	lines[1], lines[6], lines[13] = "B", "G", "LAST"
	p := &Plan{Root: "/r", Changes: []FileChange{{File: "/r/x.yaml", Old: []byte(old), New: []byte(strings.Join(lines, "\n"))}}}
	var b bytes.Buffer
	if err := p.Diff(&b); err != nil {
		t.Fatal(err)
	}
	want := `--- a/x.yaml
+++ b/x.yaml
@@ -1,10 +1,10 @@
 a
-b
+B
 c
 d
 e
 f
-g
+G
 h
 i
 j
@@ -11,4 +11,4 @@
 k
 l
 m
-last
\ No newline at end of file
+LAST
\ No newline at end of file
`
	if b.String() != want {
		t.Fatalf("got:\n%s", b.String())
	}
}

func TestCompareFindsWhereManifestsAndClusterDiffer(t *testing.T) {
	s, err := ScanDir(fixture(t), fam)
	if err != nil {
		t.Fatal(err)
	}
	job := ObjectRef{Kind: "Job", Namespace: "payments", Name: "migrate"}
	jobPath := "spec.template.spec.containers[name=migrate].env[name=TOKEN].valueFrom.secretKeyRef"
	ing := ObjectRef{Kind: "Ingress", Namespace: "payments", Name: "api"}
	// The cluster as the manifests say, then changed in three places.
	var live []LiveReference
	for _, list := range [][]Reference{s.References, s.Unversioned} {
		for _, r := range list {
			if r.Via == "" {
				live = append(live, LiveReference{Object: r.Object, Path: r.Path, Secret: r.Secret})
			}
		}
	}
	if d := Compare(s, live, "default"); len(d) != 0 {
		t.Fatalf("the same references must agree, got %+v", d)
	}
	var changed []LiveReference
	for _, l := range live {
		switch l.Object.String() {
		case job.String():
			l.Secret = v2 // drift
		case ing.String():
			continue // not applied
		}
		changed = append(changed, l)
	}
	changed = append(changed, LiveReference{Object: job, Path: "spec.template.spec.volumes[name=x].secret", Secret: v1})
	d := Compare(s, changed, "default")
	if len(d) != 4 {
		t.Fatalf("want 4 disagreements, got %+v", d)
	}
	// The Ingress was not applied: both its references (annotation, then TLS) are missing.
	for i, line := range []int{11, 15} {
		if d[i].Object.String() != ing.String() || d[i].Manifest != v1 || d[i].Cluster != "" || !strings.HasSuffix(d[i].File, "ingress.yaml") || d[i].Line != line {
			t.Errorf("a reference the cluster lacks: %+v", d[i])
		}
	}
	if d[2].Object.String() != job.String() || d[2].Path != jobPath || d[2].Manifest != v1 || d[2].Cluster != v2 {
		t.Errorf("drift: %+v", d[2])
	}
	if d[3].Object.String() != job.String() || d[3].Manifest != "" || d[3].Cluster != v1 {
		t.Errorf("a reference the manifests lack: %+v", d[3])
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/internal/family"
	"github.com/rotor-project/rotor/test/clusterenv"
)

var t0 = time.Date(2025, 7, 23, 11, 0, 0, 0, time.UTC)

func TestCreateMakesAnImmutableLabelledVersion(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	dir := t.TempDir()
	certPath := filepath.Join(dir, "cert.pem")
	envPath := filepath.Join(dir, "app.env")
	mustWrite(t, certPath, "CERT")
	mustWrite(t, envPath, "# comment\nUSER=svc\n\nREGION=eu-west-1\n")

	r := run(t, newClock(t0), "s3cr3t", "create", "auth-api-secrets", "-n", ns,
		"--from-stdin", "token", "--from-file", "tls.crt="+certPath, "--from-env-file", envPath, "--from-literal", "mode=strict")
	if r.Code != 0 {
		t.Fatalf("create failed: %+v", r)
	}
	if got, want := strings.TrimSpace(r.Stdout), "auth-api-secrets-20250723110000"; got != want {
		t.Fatalf("stdout = %q, want the new name %q", got, want)
	}
	s, err := c.CoreV1().Secrets(ns).Get(context.Background(), "auth-api-secrets-20250723110000", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Immutable == nil || !*s.Immutable {
		t.Fatal("the version is not immutable")
	}
	if s.Type != corev1.SecretTypeOpaque {
		t.Fatalf("type = %q", s.Type)
	}
	want := map[string]string{"token": "s3cr3t", "tls.crt": "CERT", "USER": "svc", "REGION": "eu-west-1", "mode": "strict"}
	if len(s.Data) != len(want) {
		t.Fatalf("keys = %v, want %v", keysOf(s.Data), want)
	}
	for k, v := range want {
		if string(s.Data[k]) != v {
			t.Fatalf("data[%s] differs", k)
		}
	}
	if s.Labels[family.LabelFamily] != "auth-api-secrets" || s.Labels[family.LabelVersion] != "20250723110000" || s.Labels[family.LabelManagedBy] != "rotor" {
		t.Fatalf("labels = %v", s.Labels)
	}
	if s.Annotations[family.AnnotationCreatedBy] != "localcluster-admin" {
		t.Fatalf("created-by = %q, want the API server's view of the caller (localcluster-admin)", s.Annotations[family.AnnotationCreatedBy])
	}
	if s.Annotations[family.AnnotationRotorVersion] == "" {
		t.Fatal("no rotor-version annotation")
	}

	// The API server itself refuses a change of data on the version.
	s.Data["token"] = []byte("changed")
	_, err = c.CoreV1().Secrets(ns).Update(context.Background(), s, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("updating an immutable version: err = %v, want Invalid (field is immutable)", err)
	}
}

func TestCreateRecordsTheImpersonatedUserAsCreator(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	r := run(t, newClock(t0), "v", "create", "db", "-n", ns, "--from-stdin", "password", "--as", "alice", "--as-group", "system:masters")
	if r.Code != 0 {
		t.Fatalf("create failed: %+v", r)
	}
	s, err := clusterenv.Client(t).CoreV1().Secrets(ns).Get(context.Background(), "db-20250723110000", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Annotations[family.AnnotationCreatedBy]; got != "alice" {
		t.Fatalf("created-by = %q, want alice", got)
	}
}

func TestCreateTwiceInOneSecondWaitsForTheNextSecond(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	clk := newClock(t0)
	first := run(t, clk, "a", "create", "db", "-n", ns, "--from-stdin", "k")
	second := run(t, clk, "b", "create", "db", "-n", ns, "--from-stdin", "k")
	if first.Code != 0 || second.Code != 0 {
		t.Fatalf("create failed: %+v %+v", first, second)
	}
	if strings.TrimSpace(first.Stdout) != "db-20250723110000" || strings.TrimSpace(second.Stdout) != "db-20250723110001" {
		t.Fatalf("names = %q, %q; want consecutive seconds", first.Stdout, second.Stdout)
	}
}

func TestCreateDryRunServerCreatesNothing(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	before := snapshot(t, ns)
	r := run(t, newClock(t0), "v", "create", "db", "-n", ns, "--from-stdin", "k", "--dry-run=server", "-o", "yaml")
	if r.Code != 0 {
		t.Fatalf("dry run failed: %+v", r)
	}
	if !strings.Contains(r.Stdout, "name: db-20250723110000") || !strings.Contains(r.Stdout, "REDACTED (1 bytes)") {
		t.Fatalf("dry-run output lacks the name or the redaction:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "dry run (server)") {
		t.Fatalf("stderr does not say it was a dry run: %q", r.Stderr)
	}
	assertUnchanged(t, ns, before)
	client := run(t, newClock(t0), "v", "create", "db", "-n", ns, "--from-stdin", "k", "--dry-run=client")
	if client.Code != 0 || strings.TrimSpace(client.Stdout) != "db-20250723110000" {
		t.Fatalf("client dry run: %+v", client)
	}
	assertUnchanged(t, ns, before)
}

func TestCreateRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	mustWrite(t, big, strings.Repeat("x", 1024*1024+1))
	half := filepath.Join(dir, "half")
	mustWrite(t, half, strings.Repeat("y", 600*1024))
	// Occupy three consecutive seconds so create has no name left to take.
	for i := 0; i < 3; i++ {
		name := family.NewVersion("full", t0.Add(time.Duration(i)*time.Second)).Name()
		if _, err := c.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"k": []byte("old")},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"an invalid family is refused", []string{"create", "Bad_Family", "--from-literal", "k=v"}, "not a valid family name"},
		{"a family too long for the timestamp is refused", []string{"create", strings.Repeat("a", 239), "--from-literal", "k=v"}, "at most 238 fit"},
		{"an invalid key is refused", []string{"create", "db", "--from-literal", "bad key=v"}, "--from-literal #1: the key is not valid"},
		{"a duplicate key is refused", []string{"create", "db", "--from-literal", "k=v", "--from-stdin", "k"}, `key "k": given twice (first by --from-literal #1)`},
		{"no data is refused", []string{"create", "db"}, "no data"},
		{"a file over 1 MiB is refused", []string{"create", "db", "--from-file", "blob=" + big}, "more than the 1 MiB"},
		{"data adding up to over 1 MiB is refused", []string{"create", "db", "--from-file", "a=" + half, "--from-file", "b=" + half}, "over the 1 MiB"},
		{"a missing file is refused", []string{"create", "db", "--from-file", filepath.Join(dir, "nope")}, "no such file"},
		{"a namespace that does not exist is refused", []string{"create", "db", "--from-literal", "k=v", "-n", "missing-" + ns[len(ns)-6:]}, "does not exist"},
		{"names taken for three seconds are never overwritten", []string{"create", "full", "--from-literal", "k=new"}, "never overwrites"},
		{"an unknown dry-run value is refused", []string{"create", "db", "--from-literal", "k=v", "--dry-run=maybe"}, "invalid --dry-run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, ns)
			args := append([]string{"-n", ns}, tt.args...)
			r := run(t, newClock(t0), "stdin-value", args...)
			if r.Code == 0 {
				t.Fatalf("expected a refusal, got success: %+v", r)
			}
			if !strings.Contains(r.Stderr, tt.wantErr) {
				t.Fatalf("stderr = %q, want it to contain %q", r.Stderr, tt.wantErr)
			}
			if strings.Count(strings.TrimSpace(r.Stderr), "\n") > 2 {
				t.Fatalf("want one clear message, got:\n%s", r.Stderr)
			}
			assertUnchanged(t, ns, before)
		})
	}
}

func TestCreateWithoutPermissionSaysSoAndChangesNothing(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	c := clusterenv.Client(t)
	ctx := context.Background()
	if _, err := c.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "secret-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "reader"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ns)
	r := run(t, newClock(t0), "v", "create", "db", "-n", ns, "--from-stdin", "k", "--as", "reader")
	if r.Code == 0 {
		t.Fatalf("a reader created a version: %+v", r)
	}
	if !strings.Contains(r.Stderr, `cannot create secrets in namespace "`+ns+`"`) || !strings.Contains(r.Stderr, "hint:") {
		t.Fatalf("stderr = %q, want a clear permission message with a hint", r.Stderr)
	}
	assertUnchanged(t, ns, before)
	// The reader can still list versions.
	if r := run(t, nil, "", "versions", "db", "-n", ns, "--as", "reader"); r.Code != 0 {
		t.Fatalf("reader cannot list versions: %+v", r)
	}
}

func TestCreateBesideAnUnversionedSecretSaysSo(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	if _, err := clusterenv.Client(t).CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db"}, Data: map[string][]byte{"k": []byte("dev")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := run(t, newClock(t0), "v", "create", "db", "-n", ns, "--from-stdin", "k")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "db-20250723110000" {
		t.Fatalf("create: %+v", r)
	}
	if !strings.Contains(r.Stderr, `unversioned secret "db" exists`) {
		t.Fatalf("stderr does not mention the unversioned secret: %q", r.Stderr)
	}
}

func TestCreateWithAFamilyLongerThanALabelValue(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	fam := strings.Repeat("a", 100) + ".example.com"
	r := run(t, newClock(t0), "v", "create", fam, "-n", ns, "--from-stdin", "k")
	if r.Code != 0 {
		t.Fatalf("create: %+v", r)
	}
	s, err := clusterenv.Client(t).CoreV1().Secrets(ns).Get(context.Background(), fam+"-20250723110000", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Annotations[family.AnnotationFamily] != fam || !strings.HasPrefix(s.Labels[family.LabelFamily], "sha256-") {
		t.Fatalf("long family: labels %v annotations %v", s.Labels, s.Annotations)
	}
	v := run(t, nil, "", "versions", fam, "-n", ns, "-o", "name")
	if strings.TrimSpace(v.Stdout) != "secret/"+fam+"-20250723110000" {
		t.Fatalf("versions of a long family: %+v", v)
	}
}

func TestCanaryValueNeverLeaks(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	const canary = "CANARY-7f3a9c-never-print-me"
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	mustWrite(t, file, canary+"-file")
	env := filepath.Join(dir, "env")
	mustWrite(t, env, "ENV_TOKEN="+canary+"-env\n")
	var outputs []result
	clk := newClock(t0)
	for _, args := range [][]string{
		{"create", "leak", "-n", ns, "--from-stdin", "a", "--from-file", "b=" + file, "--from-env-file", env, "--from-literal", "c=" + canary + "-lit"},
		{"create", "leak", "-n", ns, "--from-stdin", "a", "-o", "yaml"},
		{"create", "leak", "-n", ns, "--from-stdin", "a", "-o", "json"},
		{"create", "leak", "-n", ns, "--from-stdin", "a", "--dry-run=server", "-o", "yaml"},
		{"create", "leak", "-n", ns, "--from-stdin", "a", "--dry-run=client", "-o", "json"},
		{"create", "leak", "-n", ns, "--from-literal", canary},                             // malformed literal
		{"create", "leak", "-n", ns, "--from-literal", "a=" + canary, "--from-stdin", "a"}, // duplicate key
		{"create", "Leak", "-n", ns, "--from-literal", "a=" + canary},                      // invalid family
		{"versions", "leak", "-n", ns, "-o", "yaml"},
		{"versions", "leak", "-n", ns, "-o", "wide"},
	} {
		outputs = append(outputs, run(t, clk, canary+"-stdin", args...))
	}
	for i, r := range outputs {
		if strings.Contains(r.Stdout, canary) || strings.Contains(r.Stderr, canary) {
			t.Fatalf("invocation %d leaked the canary:\nstdout: %s\nstderr: %s", i, r.Stdout, r.Stderr)
		}
	}
	secrets, err := clusterenv.Client(t).CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) < 3 {
		t.Fatalf("expected the versions to exist, got %d secrets", len(secrets.Items))
	}
	for _, s := range secrets.Items {
		meta, _ := json.Marshal(s.ObjectMeta)
		if strings.Contains(string(meta), canary) {
			t.Fatalf("secret %s carries the canary in its metadata: %s", s.Name, meta)
		}
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func keysOf(m map[string][]byte) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

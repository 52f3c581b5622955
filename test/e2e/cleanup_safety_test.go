package e2e

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestCleanupRefusalsChangeNothing: bad input and a non-terminal run without --yes are
// refused with a clear message before anything is read or changed.
func TestCleanupRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	w.versions(t, 4)
	before := snapshot(t, w.ns)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"without a terminal and without --yes", nil, "pass --yes to delete, or --dry-run"},
		{"an unreadable retention", []string{"--yes", "--retain", "two weeks"}, "cannot read retention period"},
		{"a negative retention", []string{"--yes", "--retain=-3d"}, "negative"},
		{"a negative keep", []string{"--yes", "--keep=-1"}, "--keep is -1"},
		{"an unknown output format", []string{"--yes", "-o", "yaml"}, "unknown output format"},
		{"a missing manifest directory", []string{"--yes", "--path", "/nonexistent/gitops"}, "--path /nonexistent/gitops"},
		{"a bad dry-run value", []string{"--dry-run=maybe"}, "invalid --dry-run value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cleanupRun(t, w, false, nil, tt.args...)
			if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) || r.Stdout != "" {
				t.Fatalf("got %+v; want exit 1 and %q on stderr", r, tt.want)
			}
			assertUnchanged(t, w.ns, before)
		})
	}
}

// TestCleanupOnATerminalAsksAndNoMeansNothing: the plan goes to stderr, the answer is
// read from the terminal, and anything but y deletes nothing.
func TestCleanupOnATerminalAsksAndNoMeansNothing(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	w.versions(t, 3)
	before := snapshot(t, w.ns)
	r := cleanupRun(t, w, true, strings.NewReader("n\n"))
	if r.Code != 0 || !strings.Contains(r.Stderr, "[y/N]") || !strings.Contains(r.Stderr, "Nothing was deleted") || !strings.Contains(r.Stderr, w.v(1)) {
		t.Fatalf("%+v", r)
	}
	assertUnchanged(t, w.ns, before)
	r = cleanupRun(t, w, true, strings.NewReader("y\n"))
	if r.Code != 0 || secretNames(t, w.ns)[w.v(1)] || !secretNames(t, w.ns)[w.v(2)] {
		t.Fatalf("after y: %+v", r)
	}
}

// referenceOnAnswer is a terminal whose user, while reading the plan, has a
// colleague deploy a workload naming the version; then answers y.
type referenceOnAnswer struct {
	once   sync.Once
	create func()
	r      io.Reader
}

func (a *referenceOnAnswer) Read(p []byte) (int, error) {
	a.once.Do(a.create)
	return a.r.Read(p)
}

// TestCleanupRechecksBeforeDeleting: a reference that appears after the plan was shown
// keeps the version.
func TestCleanupRechecksBeforeDeleting(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	w.versions(t, 4)
	c := clusterenv.Client(t)
	in := &referenceOnAnswer{r: strings.NewReader("y\n"), create: func() {
		if _, err := c.AppsV1().Deployments(w.ns).Create(context.Background(), deployment("latecomer", w.v(1), 1), metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	}}
	r := cleanupRun(t, w, true, in)
	if r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	left := secretNames(t, w.ns)
	if !left[w.v(1)] {
		t.Fatalf("the version a Deployment started to use after the plan was deleted:\n%s\n%s", r.Stdout, r.Stderr)
	}
	if left[w.v(2)] {
		t.Fatalf("the other candidate was not deleted:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "kept: referenced") || !strings.Contains(r.Stdout, "Deployment/latecomer") || !strings.Contains(r.Stdout, "appeared after the plan") {
		t.Fatalf("report does not explain the late reference:\n%s", r.Stdout)
	}
}

// TestCleanupWithoutDeletePermissionChangesNothing: a user who may read everything but
// not delete Secrets gets a clear message before the first delete.
func TestCleanupWithoutDeletePermissionChangesNothing(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	w.versions(t, 5)
	c := clusterenv.Client(t)
	ctx := context.Background()
	user := "reader-" + w.ns
	read := []string{"get", "list", "watch"}
	if _, err := c.RbacV1().Roles(w.ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"", "apps", "batch", "networking.k8s.io", "external-secrets.io", "argoproj.io",
			"gateway.networking.k8s.io"}, Resources: []string{"*"}, Verbs: read}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().RoleBindings(w.ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The cluster-scoped kinds that can name a namespace's Secrets: reading everything
	// takes a ClusterRole too.
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"persistentvolumes"}, Verbs: read},
			{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses"}, Verbs: read},
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"clusteranalysistemplates"}, Verbs: read},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.RbacV1().ClusterRoles().Delete(context.Background(), user, metav1.DeleteOptions{}) })
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: user},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.RbacV1().ClusterRoleBindings().Delete(context.Background(), user, metav1.DeleteOptions{})
	})
	before := snapshot(t, w.ns)
	dry := cleanupRun(t, w, false, nil, "--dry-run", "--as", user)
	if dry.Code != 0 || strings.Count(dry.Stdout, "would delete") != 3 {
		t.Fatalf("the reader cannot see the plan: %+v", dry)
	}
	r := cleanupRun(t, w, false, nil, "--yes", "--as", user)
	if r.Code != 1 || !strings.Contains(r.Stderr, `you may not delete secrets in namespace "`+w.ns+`"`) || !strings.Contains(r.Stderr, "Nothing was deleted") {
		t.Fatalf("got %+v; want a clear permission message", r)
	}
	assertUnchanged(t, w.ns, before)
}

// TestCleanupAllowBreakingUndoSaysWhatBroke deletes a version only an old ReplicaSet
// names, and reports the revision that can no longer be restored.
func TestCleanupAllowBreakingUndoSaysWhatBroke(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	w.versions(t, 3)
	w.rollDeployment(t, "web", w.v(1), w.v(3))
	_, by, r := cleanupJSON(t, w, "--yes", "--allow-breaking-undo")
	if r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	it := by[w.v(1)]
	if it.Outcome != "deleted" || len(it.RollbackTargets) != 1 || it.RollbackTargets[0].Owner.Name != "web" || it.RollbackTargets[0].Revision != "1" {
		t.Fatalf("item = %+v", it)
	}
	if secretNames(t, w.ns)[w.v(1)] {
		t.Fatal("version still exists")
	}
}

// TestCleanupDryRunServerChangesNothing: the API server admits the deletes (checking
// permissions and preconditions) and stores nothing.
func TestCleanupDryRunServerChangesNothing(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	w.versions(t, 3)
	before := snapshot(t, w.ns)
	r := cleanupRun(t, w, false, nil, "--dry-run=server")
	if r.Code != 0 || !strings.Contains(r.Stdout, "would delete (server-checked)") || !strings.Contains(r.Stderr, "dry run (server)") {
		t.Fatalf("%+v", r)
	}
	assertUnchanged(t, w.ns, before)
}

// TestCleanupOnDeleteHookGetsNamesNeverValues runs --on-delete per deleted version.
func TestCleanupOnDeleteHookGetsNamesNeverValues(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	w.versions(t, 4)
	out := filepath.Join(t.TempDir(), "hook.log")
	r := cleanupRun(t, w, false, nil, "--yes", "--on-delete", `env | grep -E '^ROTOR_|canary' >> `+out+`; echo done >> `+out)
	if r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{"ROTOR_FAMILY=app", "ROTOR_VERSION=" + w.v(1), "ROTOR_VERSION=" + w.v(2), "ROTOR_NAMESPACE=" + w.ns, "ROTOR_VERSION_TIMESTAMP=" + strings.TrimPrefix(w.v(1), "app-")} {
		if !strings.Contains(log, want) {
			t.Errorf("hook environment lacks %s:\n%s", want, log)
		}
	}
	if strings.Count(log, "done") != 2 || strings.Contains(log, "canary") {
		t.Fatalf("hook ran %d times (want 2) or saw a value:\n%s", strings.Count(log, "done"), log)
	}
	failing := newCleanupWorld(t)
	failing.versions(t, 3)
	r = cleanupRun(t, failing, false, nil, "--yes", "--on-delete", "exit 3")
	if r.Code != 1 || !strings.Contains(r.Stderr, "--on-delete") || secretNames(t, failing.ns)[failing.v(1)] {
		t.Fatalf("a failing hook: %+v", r)
	}
}

// TestCleanupKeepsASecretChangedSinceThePlan: the delete's preconditions refuse a
// Secret whose resourceVersion moved after the plan was made.
func TestCleanupKeepsASecretChangedSinceThePlan(t *testing.T) {
	t.Parallel()
	w := newCleanupWorld(t)
	w.versions(t, 4)
	c := clusterenv.Client(t)
	in := &referenceOnAnswer{r: strings.NewReader("y\n"), create: func() {
		s, err := c.CoreV1().Secrets(w.ns).Get(context.Background(), w.v(1), metav1.GetOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		s.Labels = map[string]string{"touched": "after-the-plan"}
		if _, err := c.CoreV1().Secrets(w.ns).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
	}}
	r := cleanupRun(t, w, true, in)
	if r.Code != 0 || !secretNames(t, w.ns)[w.v(1)] || secretNames(t, w.ns)[w.v(2)] {
		t.Fatalf("%+v", r)
	}
	if !strings.Contains(r.Stdout, "kept: changed since scan") {
		t.Fatalf("report:\n%s", r.Stdout)
	}
}

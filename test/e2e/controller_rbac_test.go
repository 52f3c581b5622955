package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/test/clusterenv"
)

var helmtoolBuild struct {
	once sync.Once
	bin  string
	err  error
}

// helmtool is Helm built from its Go module (hack/helmtool): make test passes the one
// it built in ROTOR_HELMTOOL, a lone run builds it.
func helmtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ROTOR_HELMTOOL"); p != "" {
		return p
	}
	helmtoolBuild.once.Do(func() {
		root, err := clusterenv.RepoRoot()
		if err != nil {
			helmtoolBuild.err = err
			return
		}
		bin := filepath.Join(root, "bin", "helmtool")
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = filepath.Join(root, "hack", "helmtool")
		if out, err := build.CombinedOutput(); err != nil {
			helmtoolBuild.err = fmt.Errorf("building hack/helmtool: %w\n%s", err, out)
			return
		}
		helmtoolBuild.bin = bin
	})
	if helmtoolBuild.err != nil {
		t.Fatal(helmtoolBuild.err)
	}
	return helmtoolBuild.bin
}

// renderChart runs `helm template` on the chart and returns its documents.
func renderChart(t *testing.T, ns string, set ...string) []map[string]any {
	t.Helper()
	root, err := clusterenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"template", "rotor", filepath.Join(root, "deploy", "charts", "rotor"), "--namespace", ns}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(helmtool(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template: %v\n%s", err, errOut.String())
	}
	var docs []map[string]any
	for _, part := range strings.Split(out.String(), "\n---") {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(part), &doc); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, part)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	return docs
}

// applyRBAC creates the chart's ServiceAccount, Roles and RoleBindings.
func applyRBAC(t *testing.T, docs []map[string]any) {
	t.Helper()
	c := clusterenv.Client(t)
	ctx := context.Background()
	for _, doc := range docs {
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		switch doc["kind"] {
		case "ServiceAccount":
			var sa corev1.ServiceAccount
			mustUnmarshal(t, b, &sa)
			_, err = c.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, &sa, metav1.CreateOptions{})
		case "Role":
			var r rbacv1.Role
			mustUnmarshal(t, b, &r)
			_, err = c.RbacV1().Roles(r.Namespace).Create(ctx, &r, metav1.CreateOptions{})
		case "RoleBinding":
			var rb rbacv1.RoleBinding
			mustUnmarshal(t, b, &rb)
			_, err = c.RbacV1().RoleBindings(rb.Namespace).Create(ctx, &rb, metav1.CreateOptions{})
		case "ClusterRole", "ClusterRoleBinding":
			t.Fatalf("the scoped chart renders a %s", doc["kind"])
		}
		if err != nil {
			t.Fatalf("applying %s: %v", doc["kind"], err)
		}
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// The chart's RBAC is enough and not more: rendered in scopedNamespaces mode and
// applied, it lets the controller — impersonating the chart's ServiceAccount — elect a
// leader, index the namespace, and carry out a blue-green rotation (green copies
// created and deleted, events recorded); the same ServiceAccount may not write or
// delete Secrets, nor read anything in another namespace.
func TestControllerRunsUnderTheChartsRBAC(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	docs := renderChart(t, ns, "scopedNamespaces={"+ns+"}")
	applyRBAC(t, docs)
	sa := "system:serviceaccount:" + ns + ":rotor"

	clk := newClock(t0)
	v1 := createVersion(t, clk, ns, "app", "one")
	createDeployment(t, ns, deployment("web", v1, 2))
	name := applySecretRotation(t, ns, `
apiVersion: rotor.dev/v1alpha1
kind: SecretRotation
metadata: {name: app}
spec:
  family: app
  target: latest
  strategy: {type: bluegreen, steps: [50, 100]}
`)
	p := startController(t, ns, "--as", sa, "--leader-elect=true", "--leader-elect-id", "rotor-controller")
	waitRotation(t, p, ns, name, "Succeeded on "+v1, succeededOn(v1))
	clk.Step(time.Hour)
	v2 := createVersion(t, clk, ns, "app", "two")
	rot := waitRotation(t, p, ns, name, "Succeeded on "+v2, succeededOn(v2))
	if len(rot.Status.Green) != 1 || rot.Status.Phase != v1alpha1.Succeeded {
		t.Fatalf("status: %+v", rot.Status)
	}
	if got := templateSecrets(t, ns, "web"); len(got) != 1 || got[0] != v2 {
		t.Fatalf("web names %v, want %s", got, v2)
	}
	eventsAppear(t, ns, "events recorded under the ServiceAccount", func() bool {
		return containsLine(eventsOf(t, ns, "SecretRotation", name), "Normal Succeeded")
	})
	if strings.Contains(p.log.String(), "forbidden") {
		t.Fatalf("the controller met a forbidden request under the chart's RBAC:\n%s", p.log.String())
	}

	// Not more than needed.
	cfg := rest.CopyConfig(clusterenv.RESTConfig(t))
	cfg.Impersonate = rest.ImpersonationConfig{UserName: sa}
	as, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []authorizationv1.ResourceAttributes{
		{Namespace: ns, Verb: "create", Resource: "secrets"},
		{Namespace: ns, Verb: "delete", Resource: "secrets"},
		{Namespace: ns, Verb: "update", Resource: "secrets"},
		{Namespace: ns, Verb: "delete", Group: "apps", Resource: "statefulsets"},
		{Namespace: ns, Verb: "create", Resource: "pods"},
		{Namespace: "default", Verb: "list", Resource: "secrets"},
		{Namespace: "default", Verb: "patch", Group: "apps", Resource: "deployments"},
		{Namespace: "default", Verb: "get", Group: "rotor.dev", Resource: "secretrotations"},
	} {
		review, err := as.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(),
			&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &a}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed {
			t.Errorf("the chart's RBAC allows %s %s/%s in namespace %q, which the controller never needs", a.Verb, a.Group, a.Resource, a.Namespace)
		}
	}
}

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/waitfor"
)

// shippedRole reads a ClusterRole from deploy/rbac.
func shippedRole(t *testing.T, file string) *rbacv1.ClusterRole {
	t.Helper()
	root, err := clusterenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "rbac", file))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("deploy/rbac/%s: %v", file, err)
	}
	return &role
}

// userWith creates the given roles under names of this test's own (cluster-scoped
// objects are shared by parallel tests), binds them in ns to a new user, binds the
// shipped rotor-cluster-reader cluster-wide as deploy/rbac/README.md says, and returns
// the user's name for --as.
func userWith(t *testing.T, ns string, roles ...*rbacv1.ClusterRole) string {
	t.Helper()
	c := clusterenv.Client(t)
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	user := "user-" + suffix
	for _, r := range roles {
		r = r.DeepCopy()
		r.Name = r.Name + "-" + suffix
		r.ResourceVersion = ""
		if _, err := c.RbacV1().ClusterRoles().Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		name := r.Name
		t.Cleanup(func() { _ = c.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{}) })
		if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cr := shippedRole(t, "cluster-reader.yaml")
	cr.Name += "-" + suffix
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: cr.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.RbacV1().ClusterRoleBindings().Delete(context.Background(), cr.Name, metav1.DeleteOptions{})
		_ = c.RbacV1().ClusterRoles().Delete(context.Background(), cr.Name, metav1.DeleteOptions{})
	})
	waitAllowed(t, ns, user, roles)
	waitAllowed(t, "", user, []*rbacv1.ClusterRole{cr})
	return user
}

// bindAlso binds user, made by userWith with role, to that role in more namespaces.
func bindAlso(t *testing.T, user string, role *rbacv1.ClusterRole, namespaces ...string) {
	t.Helper()
	c := clusterenv.Client(t)
	name := role.Name + "-" + strings.TrimPrefix(user, "user-")
	for _, ns := range namespaces {
		if _, err := c.RbacV1().RoleBindings(ns).Create(context.Background(), &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitAllowed(t, ns, user, []*rbacv1.ClusterRole{role})
	}
}

// waitAllowed waits until the authorizer's cache answers for the new bindings: the
// first rule of each role is allowed for the user.
func waitAllowed(t *testing.T, ns, user string, roles []*rbacv1.ClusterRole) {
	t.Helper()
	c := clusterenv.Client(t)
	for _, r := range roles {
		rule := r.Rules[0]
		waitfor.Poll(t, "RBAC for "+user, func(ctx context.Context) (bool, error) {
			review, err := c.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: rule.Verbs[0], Group: rule.APIGroups[0], Resource: rule.Resources[0]}},
			}, metav1.CreateOptions{})
			return err == nil && review.Status.Allowed, nil
		})
	}
}

// without returns role with verb removed from the rules on resource.
func without(role *rbacv1.ClusterRole, group, resource, verb string) *rbacv1.ClusterRole {
	r := role.DeepCopy()
	for i, rule := range r.Rules {
		if !contains(rule.APIGroups, group) || !contains(rule.Resources, resource) {
			continue
		}
		var verbs []string
		for _, v := range rule.Verbs {
			if v != verb {
				verbs = append(verbs, v)
			}
		}
		if len(rule.Resources) > 1 {
			// Split the resource out so the others keep the verb.
			var others []string
			for _, res := range rule.Resources {
				if res != resource {
					others = append(others, res)
				}
			}
			r.Rules[i].Resources = others
			if len(verbs) > 0 {
				r.Rules = append(r.Rules, rbacv1.PolicyRule{APIGroups: rule.APIGroups, Resources: []string{resource}, Verbs: verbs})
			}
			continue
		}
		r.Rules[i].Verbs = verbs
	}
	// A rule left without verbs is invalid: drop it.
	kept := r.Rules[:0]
	for _, rule := range r.Rules {
		if len(rule.Verbs) > 0 {
			kept = append(kept, rule)
		}
	}
	r.Rules = kept
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package access

import (
	"os"
	"path/filepath"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/rotor-project/rotor/internal/kinds"
)

// shipped reads a ClusterRole from deploy/rbac.
func shipped(t *testing.T, file string) *rbacv1.ClusterRole {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "rbac", file))
	if err != nil {
		t.Fatal(err)
	}
	var r rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &r); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &r
}

// allows reports whether role grants verb on group/resource.
func allows(role *rbacv1.ClusterRole, group, resource, verb string) bool {
	for _, r := range role.Rules {
		if has(r.APIGroups, group) && has(r.Resources, resource) && has(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s || x == "*" {
			return true
		}
	}
	return false
}

// TestShippedRolesCoverEveryKind keeps deploy/rbac in step with the registry of kinds:
// a search for references reads every kind, so the namespaced ones must be listable by
// each per-namespace role and the cluster-scoped ones by rotor-cluster-reader; a
// rotation patches every kind it re-points, so rotor-rotator must patch those.
func TestShippedRolesCoverEveryKind(t *testing.T) {
	clusterReader := shipped(t, "cluster-reader.yaml")
	perNamespace := map[string]*rbacv1.ClusterRole{
		"reader.yaml": shipped(t, "reader.yaml"), "rotator.yaml": shipped(t, "rotator.yaml"), "cleaner.yaml": shipped(t, "cleaner.yaml"),
		"environments.yaml": shipped(t, "environments.yaml"),
	}
	rotator := perNamespace["rotator.yaml"]
	for _, k := range kinds.All() {
		for _, verb := range []string{"list", "watch"} {
			if !k.Namespaced {
				if !allows(clusterReader, k.Group, k.Resource, verb) {
					t.Errorf("cluster-reader.yaml does not %s %s (cluster-scoped kind %s)", verb, k.Resource, k.Kind)
				}
				continue
			}
			for file, role := range perNamespace {
				if !allows(role, k.Group, k.Resource, verb) {
					t.Errorf("%s does not %s %s (kind %s)", file, verb, k.Resource, k.Kind)
				}
			}
		}
		if k.Repoint == kinds.Patch && k.Namespaced && !allows(rotator, k.Group, k.Resource, "patch") {
			t.Errorf("rotator.yaml does not patch %s: a rotation re-points %s", k.Resource, k.Kind)
		}
	}
	for file, role := range perNamespace {
		if file == "environments.yaml" {
			continue // adopt and --from-previous copy values: see the file
		}
		if allows(role, "", "secrets", "get") {
			t.Errorf("%s grants get on Secrets: no command but --adopt needs to read values", file)
		}
	}
}

// TestTheEnvironmentRoleIncludesTheRotatorRole: an environment's rotation re-points,
// waits and journals as rollout does, so rotor-environments grants every verb
// rotor-rotator does, and only the few more its comment names.
func TestTheEnvironmentRoleIncludesTheRotatorRole(t *testing.T) {
	rotator, env := shipped(t, "rotator.yaml"), shipped(t, "environments.yaml")
	for _, r := range rotator.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if !allows(env, g, res, v) {
						t.Errorf("environments.yaml does not %s %s.%s, which rotator.yaml grants", v, res, g)
					}
				}
			}
		}
	}
	extra := map[string]bool{}
	for _, r := range env.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if !allows(rotator, g, res, v) {
						extra[v+" "+res] = true
					}
				}
			}
		}
	}
	want := map[string]bool{"get secrets": true, "delete secrets": true, "create jobs": true}
	if len(extra) != len(want) {
		t.Fatalf("environments.yaml grants beyond rotator.yaml: %v, want exactly %v", extra, want)
	}
	for k := range want {
		if !extra[k] {
			t.Fatalf("environments.yaml grants beyond rotator.yaml: %v, want exactly %v", extra, want)
		}
	}
}

package e2e

import (
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestTheEnvironmentRoleSufficesForRotatePromoteAndAdopt runs the environment commands
// as a user bound only to deploy/rbac's rotor-environments (impersonated with --as):
// staging rotates (with its verification Job, copying the previous version's other
// keys), production is promoted after the soak, a legacy namespace adopts its
// unversioned Secret; nothing is forbidden, nothing is "not checked".
func TestTheEnvironmentRoleSufficesForRotatePromoteAndAdopt(t *testing.T) {
	t.Parallel()
	w := newPromoteWorld(t)
	legacy := clusterenv.Namespace(t)
	unversioned(t, legacy, "app", "token", "legacy")
	createDeployment(t, legacy, deployment("old", "app", 1))
	cfg := w.configWith(t, "legacy", legacy)
	role := shippedRole(t, "environments.yaml")
	user := userWith(t, w.stg, role)
	bindAlso(t, user, role, w.prd, legacy)

	ok := func(r result, what string) {
		t.Helper()
		out := r.Stdout + r.Stderr
		if r.Code != 0 || strings.Contains(out, "forbidden") || strings.Contains(out, "you may not") || strings.Contains(out, "not checked") {
			t.Fatalf("%s as rotor-environments: %+v", what, r)
		}
	}
	staged := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
	ok(run(t, newClock(staged), "new-staging-token", "rotate", "app", "--env", "staging", "--config", cfg, "--from-previous", "--set", "token", "--yes", "--as", user), "rotate staging")
	done := finishedAt(t, lastRotation(t, w.stg, "app"))
	ok(run(t, newClock(done.Add(25*time.Hour)), "new-production-token", "promote", "app", "--env", "production", "--config", cfg, "--from-previous", "--set", "token", "--yes", "--as", user), "promote production")
	ok(run(t, nil, "", "adopt", "app", "--env", "legacy", "--config", cfg, "--yes", "--as", user), "adopt legacy")
}

// TestAnEnvironmentCommandMissingAVerbIsRefusedBeforeAnyChange: without a verb the
// environment's run needs, `rotate --env` names it in one message, and every namespace
// of the environment is byte-for-byte as before: no version, lock, journal or patch.
func TestAnEnvironmentCommandMissingAVerbIsRefusedBeforeAnyChange(t *testing.T) {
	t.Parallel()
	env := shippedRole(t, "environments.yaml")
	tests := []struct {
		name string
		role *rbacv1.ClusterRole
		want string // %s: the namespace
	}{
		{"without patch on Deployments (asked once the plan names the consumer)", without(env, "apps", "deployments", "patch"),
			`you may not patch deployments.apps in namespace "%s" (needed to re-point Deployment/web); nothing was changed`},
		{"without delete on Secrets (a refused run could not undo its new version)", without(env, "", "secrets", "delete"),
			`you may not delete secrets in namespace "%s" (needed to delete the new version again if the rotation is refused or declined); nothing was changed`},
		{"without create on Jobs (the verification Job)", without(env, "batch", "jobs", "create"),
			`you may not create jobs.batch in namespace "%s" (needed to run the verification Job made from integration-tests); nothing was changed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := clusterenv.Namespace(t)
			v1 := version(t, newClock(t0), ns, "app", "token", "first")
			createDeployment(t, ns, deployment("web", v1, 1))
			verifyTemplate(t, clusterClient(t), ns, v1)
			cfg := writeConfig(t, `
environments:
- name: staging
  namespaces: [%s]
  verify: {job: integration-tests}
`, ns)
			user := userWith(t, ns, tt.role)
			before := snapshot(t, ns)
			res := run(t, newClock(time.Now().Add(-time.Hour).Truncate(time.Second)), "new-token", "rotate", "app", "--env", "staging", "--config", cfg, "--from-stdin", "token", "--yes", "--as", user)
			want := strings.ReplaceAll(tt.want, "%s", ns)
			if res.Code != 1 || !strings.Contains(res.Stderr, want) || !strings.Contains(res.Stderr, "deploy/rbac") {
				t.Fatalf("exit %d, stderr:\n%s\nwant %q", res.Code, res.Stderr, want)
			}
			if n := strings.Count(res.Stderr, "you may not"); n != 1 {
				t.Fatalf("%d missing permissions named, want exactly one:\n%s", n, res.Stderr)
			}
			assertUnchanged(t, ns, before)
		})
	}
}

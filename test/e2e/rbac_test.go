package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestEachShippedRoleSufficesForItsCommands runs every command as a user bound only to
// the ClusterRole deploy/rbac ships for it (impersonated with --as), and checks that
// each succeeds completely: nothing forbidden, nothing "not checked".
func TestEachShippedRoleSufficesForItsCommands(t *testing.T) {
	ns := clusterenv.Namespace(t)
	v1, _ := twoVersions(t, ns, "app")
	createDeployment(t, ns, keyRefDeployment("web", v1, "token"))
	reader := userWith(t, ns, shippedRole(t, "reader.yaml"))
	rotator := userWith(t, ns, shippedRole(t, "rotator.yaml"))
	cleaner := userWith(t, ns, shippedRole(t, "cleaner.yaml"))

	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"errors": 0}`))
	}))
	defer metrics.Close()
	analysisFile := filepath.Join(t.TempDir(), "errors.yaml")
	mustWrite(t, analysisFile, fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
spec:
  metrics:
  - name: errors
    interval: 1s
    count: 2
    successCondition: result == 0
    provider:
      web:
        url: %s/errors
        jsonPath: "{$.errors}"
`, metrics.URL))

	steps := []struct {
		user string
		args []string
		want string
	}{
		{reader, []string{"versions", "app"}, "latest"},
		{reader, []string{"refs", "--family", "app"}, "Deployment"},
		{reader, []string{"status", "app"}, "Deployment/web"},
		{rotator, []string{"create", "app", "--from-literal", "token=v3"}, "app-"},
		{rotator, []string{"rollout", "app", "--to", "latest", "--yes"}, "rollout succeeded"},
		{rotator, []string{"watch", "app", "--analysis", analysisFile, "--for", "2s"}, "Successful"},
		{rotator, []string{"rollback", "app", "--yes"}, "rollback succeeded"},
		{rotator, []string{"rollout", "app", "--to", "latest", "--strategy", "bluegreen", "--steps", "50,100", "--pause", "0s", "--yes"}, "rollout succeeded"},
		{cleaner, []string{"cleanup", "app", "--retain", "0d", "--keep", "1", "--yes"}, "deleted"},
	}
	for _, s := range steps {
		args := append(append([]string{}, s.args...), "-n", ns, "--as", s.user)
		r := run(t, nil, "", args...)
		out := r.Stdout + r.Stderr
		if r.Code != 0 || !strings.Contains(out, s.want) || strings.Contains(out, "forbidden") || strings.Contains(out, "not checked") || strings.Contains(out, "?") && s.args[0] == "versions" {
			t.Fatalf("%v as its role's user: exit %d, want %q\nstdout: %s\nstderr: %s", s.args, r.Code, s.want, r.Stdout, r.Stderr)
		}
	}
}

// TestAMissingVerbIsNamedBeforeAnyChange: a user whose role lacks one verb the plan
// needs gets one message naming verb, resource and namespace, and the namespace is
// byte-for-byte unchanged (no lock, no record, no patch).
func TestAMissingVerbIsNamedBeforeAnyChange(t *testing.T) {
	ns := clusterenv.Namespace(t)
	v1, _ := twoVersions(t, ns, "app")
	// A third version: with --keep 1, the middle one is cleanup's candidate.
	if r := run(t, newClock(t0.Add(72*time.Hour)), "", "create", "app", "-n", ns, "--from-literal", "token=v3"); r.Code != 0 {
		t.Fatalf("create: %+v", r)
	}
	createDeployment(t, ns, keyRefDeployment("web", v1, "token"))
	rotator := shippedRole(t, "rotator.yaml")
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"errors": 0}`))
	}))
	defer metrics.Close()
	analysisFile := filepath.Join(t.TempDir(), "errors.yaml")
	mustWrite(t, analysisFile, fmt.Sprintf("spec:\n  metrics:\n  - name: errors\n    interval: 1s\n    successCondition: result == 0\n    provider:\n      web: {url: %q, jsonPath: \"{$.errors}\"}\n", metrics.URL))
	tests := []struct {
		name string
		role string
		args []string
		want string
	}{
		{"rollout without patch on Deployments", "", []string{"rollout", "app", "--to", "latest", "--yes"},
			`you may not patch deployments.apps in namespace "` + ns + `" (needed to re-point Deployment/web); nothing was changed`},
		{"rollout without watch on Pods", "pods/watch", []string{"rollout", "app", "--to", "latest", "--yes"},
			`you may not watch pods in namespace "` + ns + `" (needed to wait for Deployment/web to be healthy)`},
		{"rollout without the Lease", "leases/create", []string{"rollout", "app", "--to", "latest", "--yes"},
			`you may not create leases.coordination.k8s.io in namespace "` + ns + `"`},
		{"blue-green without create on Deployments", "deployments/create", []string{"rollout", "app", "--to", "latest", "--strategy", "bluegreen", "--yes"},
			`you may not create deployments.apps in namespace "` + ns + `" (needed to run the green copy of Deployment/web)`},
		{"watch without create on Events", "events/create", []string{"watch", "app", "--analysis", analysisFile, "--for", "1h"},
			`you may not create events in namespace "` + ns + `" (needed to put a Warning Event on each consumer when the analysis fails)`},
		{"watch --rollback-on-failure without patch on Deployments", "", []string{"watch", "app", "--analysis", analysisFile, "--for", "1h", "--rollback-on-failure"},
			`you may not patch deployments.apps in namespace "` + ns + `" (needed to re-point Deployment/web)`},
		{"cleanup without delete on Secrets", "secrets/delete", []string{"cleanup", "app", "--retain", "0d", "--keep", "1", "--yes"},
			`you may not delete secrets in namespace "` + ns + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var role = without(rotator, "apps", "deployments", "patch")
			switch tt.role {
			case "pods/watch":
				role = without(rotator, "", "pods", "watch")
			case "leases/create":
				role = without(rotator, "coordination.k8s.io", "leases", "create")
			case "deployments/create":
				role = without(rotator, "apps", "deployments", "create")
			case "events/create":
				role = without(rotator, "", "events", "create")
			case "secrets/delete":
				role = without(shippedRole(t, "cleaner.yaml"), "", "secrets", "delete")
			}
			user := userWith(t, ns, role)
			before := snapshot(t, ns)
			r := run(t, nil, "", append(tt.args, "-n", ns, "--as", user)...)
			if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) || !strings.Contains(r.Stderr, "deploy/rbac") {
				t.Fatalf("exit %d, stderr:\n%s\nwant %q", r.Code, r.Stderr, tt.want)
			}
			if n := strings.Count(r.Stderr, "you may not"); n != 1 {
				t.Fatalf("%d missing permissions named, want exactly one:\n%s", n, r.Stderr)
			}
			assertUnchanged(t, ns, before)
		})
	}
}

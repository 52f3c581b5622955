package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/rollout"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestStatusShowsTheMixedStateOfASlowRollout watches `rotor status` while a Deployment
// rolls one pod at a time (minReadySeconds, maxUnavailable 0): at some moment its pods
// run both versions, and status says so; at the end every pod runs the new one.
func TestStatusShowsTheMixedStateOfASlowRollout(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	d := deployment("web", v1, 4)
	d.Spec.MinReadySeconds = 2
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}}
	createDeployment(t, ns, d)

	watched := make(chan result, 1)
	go func() { watched <- run(t, nil, "", "status", "app", "-n", ns, "--watch") }()
	done := make(chan result, 1)
	go func() {
		done <- run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes", "--timeout", rotorTimeout(t))
	}()

	var mixed *rollout.ConsumerStatus
	eventually(t, ns, "a mixed state", func() bool {
		r := run(t, nil, "", "status", "app", "-n", ns, "-o", "json")
		var st rollout.Status
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil || len(st.Consumers) != 1 {
			return false
		}
		c := st.Consumers[0]
		if len(c.Pods) == 2 && c.Spec[0] == v2 && c.Pods[0].Version == v2 && c.Pods[1].Version == v1 && c.Remaining == c.Pods[1].Total && !st.Converged {
			mixed = &c
			return true
		}
		return false
	})
	t.Logf("mixed state seen: %s, %d left to restart", mixed, mixed.Remaining)
	if r := <-done; r.Code != 0 {
		t.Fatalf("rollout: %+v", r)
	}
	w := <-watched
	if w.Code != 0 || !strings.Contains(w.Stdout, "every consumer runs one version") || !strings.Contains(w.Stdout, v1) {
		t.Fatalf("status --watch: %+v", w)
	}
	r := run(t, nil, "", "status", "app", "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stdout, v2+" 4/4 ready") || !strings.Contains(r.Stdout, "[##########]") {
		t.Fatalf("final status:\n%s", r.Stdout)
	}
}

// TestStatusShowsConsumersOfTheUnversionedSecret: a consumer that still names the
// unversioned Secret (a namespace not adopted yet, an unversioned environment) is a
// consumer of the family: status lists it with that name as its version, beside the
// consumers of a version, and the family is not converged while both are in use.
func TestStatusShowsConsumersOfTheUnversionedSecret(t *testing.T) {
	t.Parallel()
	ns := clusterenv.Namespace(t)
	unversioned(t, ns, "app", "token", "old")
	createDeployment(t, ns, deployment("old", "app", 2))
	v1 := version(t, newClock(t0), ns, "app", "token", "new")
	createDeployment(t, ns, deployment("web", v1, 1))

	eventually(t, ns, "both consumers with their pods ready", func() bool {
		r := run(t, nil, "", "status", "app", "-n", ns, "-o", "json")
		var st rollout.Status
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil || len(st.Consumers) != 2 || st.Converged {
			return false
		}
		ready := func(c rollout.ConsumerStatus, name, version string, n int) bool {
			return c.Name == name && len(c.Spec) == 1 && c.Spec[0] == version && len(c.Pods) == 1 &&
				c.Pods[0] == rollout.VersionPods{Version: version, Ready: n, Total: n} && c.Remaining == 0
		}
		return ready(st.Consumers[0], "old", "app", 2) && ready(st.Consumers[1], "web", v1, 1)
	})
	r := run(t, nil, "", "status", "app", "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Deployment/old") || !strings.Contains(r.Stdout, "app 2/2 ready") || !strings.Contains(r.Stdout, v1+" 1/1 ready") {
		t.Fatalf("status:\n%+v", r)
	}
}

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/test/clusterenv"
	"github.com/rotor-project/rotor/test/promenv"
)

// After a real rollout, a watch whose analysis fails rolls every consumer back when
// asked to, and records it.
func TestWatchRollsBackOnFailureAfterARealRollout(t *testing.T) {
	ns := clusterenv.Namespace(t)
	v1, v2 := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 2))
	if r := run(t, nil, "", "rollout", "app", "-n", ns, "--to", v2, "--yes"); r.Code != 0 {
		t.Fatalf("rollout: %+v", r)
	}
	prom := promenv.Start(t)
	file := writeAnalysis(t, prom.URL, "vector(10)") // above the threshold of 5: fails at once
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done, stdout, stderr := startWatch(ctx, t, "app", "-n", ns, "--analysis", file, "--for", "1h", "--rollback-on-failure")
	var code int
	select {
	case code = <-done:
	case <-ctx.Done():
		t.Fatalf("the watch did not end; stderr:\n%s", stderr)
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if got := templateSecrets(t, ns, "web"); got[0] != v1 {
		t.Fatalf("web names %v after the watch failed, want the rollback to %s\nstdout:\n%s\nstderr:\n%s", got, v1, stdout, stderr)
	}
	recs := journals(t, ns, "app")
	if len(recs) < 2 || recs[len(recs)-1].Spec.Action != v1alpha1.ActionRollback || recs[len(recs)-1].Status.Phase != v1alpha1.Succeeded || recs[0].Status.RevertedBy != recs[1].Name {
		t.Fatalf("journals: %+v; want the rollback recorded last, reversing the rollout", recs)
	}
}

// Without a rotation record, the watch still finds the family's consumers by their
// references and puts its Event on them.
func TestWatchWithoutARecordFindsConsumersByReference(t *testing.T) {
	ns := clusterenv.Namespace(t)
	v1, _ := twoVersions(t, ns, "app")
	createDeployment(t, ns, deployment("web", v1, 1))
	prom := promenv.Start(t)
	file := writeAnalysis(t, prom.URL, "vector(10)")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done, stdout, stderr := startWatch(ctx, t, "app", "-n", ns, "--analysis", file, "--for", "1h")
	if code := <-done; code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout.String(), "Deployment/web") {
		t.Fatalf("summary does not name the consumer:\n%s", stdout)
	}
	evs, err := clusterenv.Client(t).CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=web"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs.Items {
		found = found || (e.Type == "Warning" && e.InvolvedObject.Kind == "Deployment")
	}
	if !found {
		t.Fatalf("no Warning Event on Deployment/web: %+v", evs.Items)
	}
}

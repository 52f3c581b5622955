package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// fleetKubeconfig writes one kubeconfig with a context per cluster, named as given.
func fleetKubeconfig(t *testing.T, clusters map[string]string) string {
	t.Helper()
	merged := clientcmdapi.NewConfig()
	for name, path := range clusters {
		cfg, err := clientcmd.LoadFromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cur := cfg.Contexts[cfg.CurrentContext]
		merged.Clusters[name] = cfg.Clusters[cur.Cluster]
		merged.AuthInfos[name] = cfg.AuthInfos[cur.AuthInfo]
		merged.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
		merged.CurrentContext = name
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*merged, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// sameNamespace creates namespace ns in another cluster and waits until it is filled.
func sameNamespace(t *testing.T, c *clusterenv.Cluster, ns string) {
	t.Helper()
	k := c.Client(t)
	if _, err := k.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(t, ns, "namespace "+ns+" filled", func(ctx context.Context) (bool, error) {
		_, err := k.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}, clusterenv.ServiceAccounts)
}

func webSecret(t *testing.T, k kubernetes.Interface, ns string) string {
	t.Helper()
	d, err := k.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name
}

// TestAFleetStopsAtTheFailingClusterAndRollsBackByPolicy: an environment of two
// clusters (the shared one and a private one) rolls out one after the other; pods of
// the new version crash in the second, which rolls back and stops the wave. With
// fleetRollback: cluster the first keeps the new version; with fleet it goes back too.
// `status --env` shows both clusters.
func TestAFleetStopsAtTheFailingClusterAndRollsBackByPolicy(t *testing.T) {
	t.Parallel()
	two := clusterenv.Private(t, clusterenv.Options{})
	ns := clusterenv.Namespace(t)
	sameNamespace(t, two, ns)
	kubeconfig := fleetKubeconfig(t, map[string]string{"one": clusterenv.Kubeconfig(t), "two": two.Kubeconfig(t)})
	clients := map[string]kubernetes.Interface{"one": clusterClient(t), "two": two.Client(t)}
	clk := newClock(t0)
	v1 := map[string]string{}
	for _, name := range []string{"one", "two"} {
		r := run(t, clk, "", "--kubeconfig", kubeconfig, "--context", name, "create", "app", "-n", ns, "--from-literal", "token=first")
		if r.Code != 0 {
			t.Fatalf("create in %s: %+v", name, r)
		}
		v1[name] = strings.TrimSpace(r.Stdout)
		if _, err := clients[name].AppsV1().Deployments(ns).Create(context.Background(), deployment("web", v1[name], 2), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitAvailable(t, clients["one"], ns, "web")
	two.WaitFor(t, ns, "web available in cluster two", func(ctx context.Context) (bool, error) {
		d, err := clients["two"].AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 2 && d.Status.ObservedGeneration >= d.Generation, nil
	}, clusterenv.Deployments)
	// Versions made now (by the real clock, a later year than t0) crash in cluster two.
	crashPodsUsingIn(t, two.RESTConfig(t), ns, fmt.Sprintf("^app-%d", time.Now().UTC().Year()))

	config := func(policy string) string {
		return writeConfig(t, `
environments:
- name: production
  contexts: [one, two]
  namespaces: [%s]
  fleetRollback: %s
`, ns, policy)
	}
	r := run(t, nil, "second", "--kubeconfig", kubeconfig, "rotate", "app", "--env", "production", "--config", config("cluster"), "--from-stdin", "token", "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "==> cluster one (1 of 2)") || !strings.Contains(r.Stderr, "==> cluster two (2 of 2)") ||
		!strings.Contains(r.Stderr, "the wave stopped at cluster two") || !strings.Contains(r.Stdout, "cluster two: rotate FAILED") {
		t.Fatalf("fleet rotation: %+v", r)
	}
	stores := map[string]*journal.Store{"one": {Client: clients["one"]}, "two": {Client: clients["two"]}}
	last := func(name string) *v1alpha1.SecretRotation {
		rots, err := stores[name].List(context.Background(), ns, "app")
		if err != nil || len(rots) == 0 {
			t.Fatalf("journals in %s: %v %v", name, rots, err)
		}
		return rots[len(rots)-1]
	}
	one1, two1 := last("one"), last("two")
	if one1.Status.Phase != v1alpha1.Succeeded || two1.Status.Phase != v1alpha1.RolledBack || one1.Spec.Run != two1.Spec.Run ||
		one1.Spec.Environment.Context != "one" || two1.Spec.Environment.Context != "two" {
		t.Fatalf("cluster one %s (%s), cluster two %s (%s)", one1.Status.Phase, one1.Spec.Run, two1.Status.Phase, two1.Spec.Run)
	}
	if got := webSecret(t, clients["one"], ns); got != one1.Status.TargetVersion {
		t.Fatalf("cluster one names %s, want the new version %s (fleetRollback: cluster)", got, one1.Status.TargetVersion)
	}
	if got := webSecret(t, clients["two"], ns); got != v1["two"] {
		t.Fatalf("cluster two names %s, want %s after its rollback", got, v1["two"])
	}

	st := run(t, nil, "", "--kubeconfig", kubeconfig, "status", "app", "--env", "production", "--config", config("cluster"))
	if st.Code != 0 || !strings.Contains(st.Stdout, "one  ") || !strings.Contains(st.Stdout, "two  ") || !strings.Contains(st.Stdout, "RolledBack") {
		t.Fatalf("status --env: %+v", st)
	}

	r = run(t, nil, "third", "--kubeconfig", kubeconfig, "rotate", "app", "--env", "production", "--config", config("fleet"), "--from-stdin", "token", "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "rolling back the 1 cluster(s) before it (fleetRollback: fleet)") {
		t.Fatalf("fleet rotation with fleetRollback fleet: %+v", r)
	}
	one2 := last("one")
	if one2.Spec.Action != v1alpha1.ActionRollback {
		t.Fatalf("cluster one's last rotation is %s %s, want the rollback of the wave", one2.Spec.Action, one2.Status.Phase)
	}
	if got := webSecret(t, clients["one"], ns); got != one1.Status.TargetVersion {
		t.Fatalf("cluster one names %s, want %s again (fleetRollback: fleet)", got, one1.Status.TargetVersion)
	}
	hist := run(t, nil, "", "--kubeconfig", kubeconfig, "history", "app", "--env", "production", "--config", config("fleet"))
	if hist.Code != 0 || strings.Count(hist.Stdout, "Rollout rotor-rotation-") != 4 || !strings.Contains(hist.Stdout, "reverted by: ") {
		t.Fatalf("history --env: %+v", hist)
	}
}

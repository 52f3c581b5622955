// Package clusterenv gives tests a real local control plane (see hack/localcluster).
//
// Under `make test` one cluster is shared by every package: hack/with-cluster.sh starts
// it and hands it over in the environment (EnvKubeconfig, EnvClusterDir and
// EnvLocalcluster). A package run alone with `go test` starts its own cluster from
// TestMain (Main) and stops it at the end, also when a test fails (and, through the
// localcluster supervisor, when the test binary is killed).
//
// Tests use the shared cluster through the package functions (Client, Namespace,
// WaitFor, RequireAddon…). Tests that must disturb the control plane itself (stop the
// API server mid-rotation) start a private cluster of their own with Private and use
// the same methods on it.
package clusterenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rotor-project/rotor/test/waitfor"
)

// The environment through which make hands a running cluster to the tests.
const (
	// EnvKubeconfig names the kubeconfig of a running cluster the tests should use.
	EnvKubeconfig = "ROTOR_TEST_KUBECONFIG"
	// EnvClusterDir names its localcluster state directory (needed for addons).
	EnvClusterDir = "ROTOR_TEST_CLUSTER_DIR"
	// EnvLocalcluster names a built localcluster tool (optional: built when unset).
	EnvLocalcluster = "ROTOR_TEST_LOCALCLUSTER"
)

// shared is the cluster of the package functions.
var shared *Cluster

// Main runs the package's tests against a cluster and exits. Use it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if kc := os.Getenv(EnvKubeconfig); kc != "" {
		shared = &Cluster{kubeconfig: kc, dir: os.Getenv(EnvClusterDir)}
		return m.Run()
	}
	c, err := Start(context.Background(), os.Stderr, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterenv: cannot start the local control plane:", err)
		return 1
	}
	defer c.Stop()
	shared = c
	return m.Run()
}

func cluster(t testing.TB) *Cluster {
	t.Helper()
	if shared == nil {
		t.Fatal("no cluster: call clusterenv.Main from TestMain")
	}
	return shared
}

// Kubeconfig is the path of the admin kubeconfig of the cluster under test.
func Kubeconfig(t testing.TB) string { return cluster(t).Kubeconfig(t) }

// RESTConfig is the admin client configuration.
func RESTConfig(t testing.TB) *rest.Config { return cluster(t).RESTConfig(t) }

// Client is an admin clientset.
func Client(t testing.TB) kubernetes.Interface { return cluster(t).Client(t) }

// Namespace creates a namespace of the test's own and deletes it when the test ends.
func Namespace(t testing.TB) string { return cluster(t).Namespace(t) }

// WaitFor evaluates cond now and again after every change to the given resources in
// namespace ns ("" for all), until it holds: a wait by watch, with no wall-clock bound
// (see package waitfor). An error from cond fails the test.
func WaitFor(t testing.TB, ns, what string, cond func(ctx context.Context) (bool, error), resources ...schema.GroupVersionResource) {
	t.Helper()
	cluster(t).WaitFor(t, ns, what, cond, resources...)
}

// RequireAddon makes sure the named addon ("argo-rollouts", "external-secrets",
// "flux") runs on the shared cluster, starting it if needed; the whole run starts
// each addon once. It fails the test when the cluster is not one localcluster runs.
func RequireAddon(t testing.TB, name string) { cluster(t).RequireAddon(t, name) }

// Kubeconfig is the path of the cluster's admin kubeconfig.
func (c *Cluster) Kubeconfig(t testing.TB) string { return c.kubeconfig }

// RESTConfig is the cluster's admin client configuration.
func (c *Cluster) RESTConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

// Client is an admin clientset of the cluster.
func (c *Cluster) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	k, err := kubernetes.NewForConfig(c.RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace of the test's own in the cluster and deletes it when
// the test ends. It returns once the controller-manager has filled it (its default
// ServiceAccount and kube-root-ca.crt ConfigMap), so a test that compares the namespace
// before and after never sees them arrive in between.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	k := c.Client(t)
	var b [3]byte
	_, _ = rand.Read(b[:])
	base := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	name := strings.Trim(base, "-") + "-" + hex.EncodeToString(b[:])
	ctx := waitfor.Context(t)
	if _, err := k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = k.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})
	})
	c.WaitFor(t, name, "namespace "+name+" filled by the controller-manager (default ServiceAccount, kube-root-ca.crt)",
		func(ctx context.Context) (bool, error) {
			_, saErr := k.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
			_, cmErr := k.CoreV1().ConfigMaps(name).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			return saErr == nil && cmErr == nil, nil
		}, ServiceAccounts, ConfigMaps)
	return name
}

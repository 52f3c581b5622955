package clusterenv

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rotor-project/rotor/test/waitfor"
)

// TestAPrivateClusterLosesItsAPIServerAndGetsItBack is what an engine test does to
// take the API server away in the middle of a rotation: the objects written before
// are there after, because etcd kept running.
func TestAPrivateClusterLosesItsAPIServerAndGetsItBack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	c := Private(t, Options{})
	ns := c.Namespace(t)
	k := c.Client(t)
	ctx := waitfor.Context(t)

	c.StopAPIServer(t)
	if _, err := k.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		t.Fatal("the API server still answers after StopAPIServer")
	}
	c.StartAPIServer(t)
	if _, err := k.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Fatalf("after StartAPIServer: %v", err)
	}
	// The controllers reconnected: a new namespace is filled again.
	c.Namespace(t)
}

package e2e

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rotor-project/rotor/api/v1alpha1"
	"github.com/rotor-project/rotor/internal/journal"
	"github.com/rotor-project/rotor/internal/rotation"
	"github.com/rotor-project/rotor/test/clusterenv"
)

// TestJournalStoreIsFencedByResourceVersion: of two drivers that read the same
// journal, the second to save gets a ConflictError and the stored journal is the
// first's; a save whose answer was lost (applied, answered 500) is recognised as done.
func TestJournalStoreIsFencedByResourceVersion(t *testing.T) {
	ns := clusterenv.Namespace(t)
	ctx := context.Background()
	store := &journal.Store{Client: clusterenv.Client(t)}
	created, err := store.Create(ctx, &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Namespace: ns},
		Spec:   v1alpha1.RotationSpec{Family: "app", Target: "latest"},
		Status: v1alpha1.RotationStatus{Phase: v1alpha1.Pending}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := created.DeepCopy(), created.DeepCopy()
	a.Status.Message, b.Status.Message = "driver a", "driver b"
	if _, err := store.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(ctx, b); !rotation.IsConflict(err) {
		t.Fatalf("the second driver's save: %v, want a ConflictError", err)
	}
	got, err := store.Get(ctx, ns, created.Name)
	if err != nil || got.Status.Message != "driver a" {
		t.Fatalf("stored %q (%v), want the first driver's", got.Status.Message, err)
	}

	p := startFaultyProxy(t)
	p.writes.Store(-1) // no injected 500s besides the lost answer
	cfg, err := clientcmd.BuildConfigFromFlags("", p.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	proxied := &journal.Store{Client: kubernetes.NewForConfigOrDie(cfg)}
	next := got.DeepCopy()
	next.Status.Message = "saved, answer lost"
	p.lostAnswer.Store(true)
	saved, err := proxied.Update(ctx, next)
	if err != nil || saved.Status.Message != "saved, answer lost" || p.failed.Load() != 1 {
		t.Fatalf("a save applied but answered 500: %v (%d answers lost)", err, p.failed.Load())
	}
}

package controller

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/rotor-project/rotor/api/v1alpha1"
)

// countingReader counts the reads that reach the API server.
type countingReader struct {
	client.Reader
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, key, obj, opts...)
}

func TestAReconcileReadsTheCacheOnlyWhenItHasSeenThisProcesssLastSave(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	at := func(rv string) *v1alpha1.SecretRotation {
		return &v1alpha1.SecretRotation{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns", ResourceVersion: rv}}
	}
	key := types.NamespacedName{Namespace: "ns", Name: "r"}
	tests := []struct {
		name      string
		saved     string // the resourceVersion this process saved last ("": none)
		cache     string // the cache's resourceVersion
		fromCache bool
	}{
		{"a rotation this process never saved is read from the API server", "", "5", false},
		{"a cache that holds this process's last save is read", "5", "5", true},
		{"a cache behind this process's last save is not read", "6", "5", false},
		{"a cache that holds someone else's later write is not trusted either", "5", "7", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(at(tt.cache)).Build()
			fresh := &countingReader{Reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(at(tt.cache)).Build()}
			r := &Reconciler{client: cache, fresh: fresh}
			if tt.saved != "" {
				r.saved.set(at(tt.saved))
			}
			rot, err := r.read(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			if rot.Name != "r" {
				t.Fatalf("read %+v", rot.ObjectMeta)
			}
			if got := fresh.gets == 0; got != tt.fromCache {
				t.Fatalf("read from the cache: %v, want %v (%d reads of the API server)", got, tt.fromCache, fresh.gets)
			}
		})
	}
}

package refindex

import (
	"fmt"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/rotor-project/rotor/internal/kinds"
)

// BenchmarkIndexBytesPerPod measures what the index holds per object at rest: a Pod of
// a ReplicaSet that names one version, transformed and stored in an informer's store
// with its namespace index, as the controller keeps ~68,000 of them at the bench
// population's full size (issue #12's RSS target). It reports live heap bytes per
// object after a GC; the time per op is not the point.
func BenchmarkIndexBytesPerPod(b *testing.B) {
	const perNamespace = 60
	n := max(b.N, 1000)
	in := &interner{}
	transform := in.transformer(kinds.Lookup("Pod"))
	store := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	pod := func(i int) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("api-7d9c5b6f8d-%05d", i), Namespace: fmt.Sprintf("bench-%04d", i/perNamespace),
				UID: types.UID(fmt.Sprintf("3f0b2c1e-8d4a-4b6e-9c2f-%012d", i)), ResourceVersion: fmt.Sprint(100000 + i),
				Labels:          map[string]string{"app": "api", "pod-template-hash": "7d9c5b6f8d"},
				OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "api-7d9c5b6f8d", Controller: ptr.To(true)}}},
			Spec:   podSpec("bench-api-secrets-20250723110000"),
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range n {
		e, err := transform(pod(i)) // the Pod is garbage once transformed, as in an informer
		if err != nil {
			b.Fatal(err)
		}
		if err := store.Add(e); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "B/object")
	runtime.KeepAlive(store)
}
